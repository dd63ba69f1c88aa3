"""`python -m bot simulate`: a meeting script through the real engine, with a terminal sink.

Script format, one message per line (blank lines and unindented lines starting with # are skipped):

    Carmen: Welcome to the ELAC meeting.          <- no language: the English main channel
    Lan@vi: Con tôi cần giúp đỡ về IEP.           <- a parent in the Vietnamese channel
        Cảm ơn.                                   <- an indented line continues the message above,
        # Agenda                                  <- even one that starts with # (a Markdown heading)
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bot import languages, meetings
from bot.config import Settings
from bot.glossary import Glossary, GlossaryError
from bot.languages import Language
from bot.relay import Incoming, RelayEngine
from bot.sinks import MemorySink, Outgoing, TerminalSink
from bot.store import Store, time_snowflake
from bot.transcripts import TranscriptFile
from bot.transcripts import transcripts as render_transcripts
from bot.translation import build_translator

MAIN_CHANNEL = 1000
LINE = re.compile(r"^(?P<speaker>[^:@]+?)\s*(?:@\s*(?P<lang>[A-Za-z-]+))?\s*:\s?(?P<text>.*)$")


class ScriptError(ValueError):
    """A script line that cannot be read; names the line."""


@dataclass(frozen=True)
class Line:
    number: int
    speaker: str
    language: Language
    text: str


def parse(script: str) -> list[Line]:
    lines: list[Line] = []
    for number, raw in enumerate(script.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or raw.startswith("#"):  # only an unindented # starts a comment
            continue
        if raw[:1] in " \t" and lines:  # an indented line continues the previous message
            last = lines[-1]
            lines[-1] = Line(last.number, last.speaker, last.language, f"{last.text}\n{stripped}")
            continue
        match = LINE.match(stripped)
        if not match or not match["text"].strip():
            raise ScriptError(f"line {number}: expected 'speaker[@language]: text', got {stripped[:60]!r}")
        try:
            language = languages.get(match["lang"]) if match["lang"] else languages.LANGUAGES["en"]
        except languages.UnknownLanguage as exc:
            raise ScriptError(f"line {number}: {exc}") from None
        lines.append(Line(number, match["speaker"].strip(), language, match["text"].strip()))
    if not lines:
        raise ScriptError("the script has no messages")
    return lines


@dataclass
class Report:
    sink: MemorySink
    channels: dict[int, Language]
    delivered: int = 0
    untranslated: int = 0
    lost: int = 0
    messages: int = 0
    notes: list[str] = field(default_factory=list)
    transcripts: list[TranscriptFile] = field(default_factory=list)

    def render(self) -> str:
        out = [*self.notes]
        for channel_id, lang in self.channels.items():
            out.append(f"\n== #{lang.channel} ({lang.code}, {lang.english}) ==")
            for message in self.sink.channel(channel_id):
                out.append(f"{message.author_name}: {message.content}")
        out.append(
            f"\n{self.messages} messages, {self.delivered} deliveries, {self.untranslated} delivered untranslated "
            f"(marked), {self.lost} lost"
        )
        return "\n".join(out)


async def run(
    script: str,
    language_list: str,
    settings: Settings,
    database: Path,
    *,
    live: bool = False,
    burst: bool = False,
    glossary: bool = True,
    transcripts: bool = False,
    name: str = "simulation",
) -> Report:
    """Relay the script. By default each line waits for its deliveries, like a meeting's pace; `burst` sends
    all lines at once (order per channel is still kept). `transcripts`: also make the meeting's transcripts
    (Markdown and HTML per language, as `/meeting end` gives them) into `Report.transcripts`."""
    lines = parse(script)
    wanted = languages.parse_list(language_list)
    notes = []
    for line in lines:  # a parent writing in a language gets that language's channel
        if line.language.code != "en" and line.language not in wanted:
            wanted.append(line.language)
            notes.append(f"note: added a {line.language.english} channel for {line.speaker} (line {line.number})")
    channels = {MAIN_CHANNEL: languages.LANGUAGES["en"]}
    channels.update({MAIN_CHANNEL + i: lang for i, lang in enumerate(wanted, start=1) if lang.code != "en"})
    names = {cid: lang.channel for cid, lang in channels.items()}
    # Ids like Discord's, which carry the time they were made at: transcripts read the time from them.
    ids = itertools.count(time_snowflake())
    sink = TerminalSink(names=names, out=sys.stdout, _ids=ids) if live else MemorySink(_ids=ids)
    store = await Store.open(database)
    try:
        terms = Glossary.configured(store, settings) if glossary else None
        if terms is not None:  # the seed glossaries, as a freshly installed bot has them
            try:
                await terms.seed(settings.glossary_dir)
            except GlossaryError as exc:  # as at the bot's start: a broken seed only warns
                notes.append(f"warning: seed glossaries not loaded: {exc}")
        translator = build_translator(settings, store, terms)
    except BaseException:
        await store.close()  # or aiosqlite's thread keeps the process alive
        raise
    engine = RelayEngine(store, translator, sink, retry_every=0)
    try:
        meeting = await store.create_meeting(guild_id=0, name=name)
        for channel_id, lang in channels.items():
            await store.link_channel(channel_id, meeting.id, lang.code)
        by_language = {lang.code: cid for cid, lang in channels.items()}
        await engine.start()
        for number, line in enumerate(lines):
            channel_id = by_language[line.language.code]
            # The sink plays Discord: the speaker's own post gets an id, then the engine relays it.
            message_id = await sink.post(channel_id, _human(line))
            await engine.handle_message(
                Incoming(message_id, channel_id, author_id=number, author_name=line.speaker, content=line.text)
            )
            if not burst:
                await engine.drain()
        await engine.drain()
        report = Report(sink, channels, messages=len(lines), notes=notes)
        for row in await store.outbox_in_state("delivered", "untranslated", "pending"):
            report.delivered += row.state != "pending"
            report.untranslated += row.state == "untranslated"
            report.lost += row.state == "pending"
        if transcripts:
            report.transcripts = await transcript_files(store, meeting.id, settings.timezone)
        return report
    finally:
        await engine.close()
        translator.close()
        await store.close()


async def transcript_files(store: Store, meeting_id: int, timezone: str) -> list[TranscriptFile]:
    """The meeting's transcripts: one Markdown and one HTML file per language."""
    meeting = await store.meeting(meeting_id)
    assert meeting is not None

    async def no_names(kind: str, ident: int) -> str | None:
        return None  # a script has no Discord members, roles or channels to name

    return render_transcripts(await meetings.record(store, meeting, names=no_names, timezone=timezone))


def _human(line: Line) -> Outgoing:
    return Outgoing(content=line.text, author_name=line.speaker)
