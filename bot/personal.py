"""Translations for one reader: `/translate` and "Translate to my language", shown only to the one who asked.

A message Concord relayed is translated from its original (not from a copy, which is already a translation);
any other text is translated from the language it is written in, detected among every language Concord knows
(the channel's own language first when the channel is linked). The glossary applies as it does for the relay.
When the service fails, the reader gets the original, marked in their language, as the relay would show it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot import detect, languages
from bot.glossary import TermContext
from bot.relay import NEEDS_INTERPRETER, marker
from bot.store import Store
from bot.translation import TranslationService


@dataclass(frozen=True)
class ForReader:
    text: str  # what to show: the translation, or the original (marked when the translation failed)
    source: str  # the language it was read as
    target: str
    ok: bool  # translated (or already in the reader's language)

    @property
    def same_language(self) -> bool:
        return languages.for_translation(languages.get(self.source)).code == (
            languages.for_translation(languages.get(self.target)).code
        )


async def translate_for(
    store: Store,
    translator: TranslationService,
    text: str,
    target: str,
    *,
    guild_id: int | None,
    channel_id: int | None = None,
    message_id: int | None = None,
) -> ForReader | None:
    """`text` (or the original of the message `message_id`) in `target`; None when there is no text."""
    source_language = None
    if message_id is not None and (family := await store.family(message_id)) is not None:
        text, source_language = family.source.content, family.source.language
    if not text.strip():
        return None
    if source_language is None:
        channel = await store.channel(channel_id) if channel_id is not None else None
        prior = channel.language if channel else "en"
        # Every language Concord knows: the models load once, in a worker thread.
        source_language = await asyncio.to_thread(detect.detect_source, text, prior, list(languages.LANGUAGES))
    src, dst = languages.get(source_language), languages.get(target)
    # Not a meeting message: the server's terms apply, and acronyms are introduced (expanded) for this reader.
    translation = await translator.translate(text, src, dst, context=TermContext(guild_id))
    if translation.ok:
        return ForReader(translation.text, src.code, dst.code, True)
    if translation.unsupported:  # no interpreter follows a personal translation
        note = f"-# {NEEDS_INTERPRETER} no machine translation into {dst.english}"
    else:
        note = marker(src, dst, translation)  # "not translated yet", in the reader's language
    return ForReader(f"{text}\n{note}", src.code, dst.code, False)
