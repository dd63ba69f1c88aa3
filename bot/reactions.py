"""Reactions across languages: a reaction on a message or any of its copies shows on all of them, once.

"React ✋ if you want to speak" only works if the facilitator in #main sees the hands raised in #español and
#tiếng-việt. The store keeps who holds which emoji where (every member's reaction, by message, and Concord's
own mirrored ones as user 0). After each change, for that emoji, Concord's reaction is:
- added on every message of the family where nobody holds the emoji yet, while someone holds it anywhere;
- removed everywhere once nobody holds it on any message of the family.
Concord's own reactions are never mirrored back (the cog drops events of the bot's own user), so nothing
loops; a message's changes are applied one at a time, and only the first holder of an emoji costs Discord
calls (one per channel), which keeps a room full of ✋ within the reaction rate limits.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import languages
from bot.sinks import SinkError
from bot.store import Family, Shown, Store

log = logging.getLogger(__name__)

MIRROR = 0  # the user id under which Concord's own (mirrored) reactions are stored


@dataclass(frozen=True)
class Tally:
    """One emoji across a message's copies: how many people hold it, and how many in each language."""

    emoji: str
    people: int
    by_language: dict[str, int]  # language code -> people, most first


class ReactionMirror:
    def __init__(
        self,
        store: Store,
        sink: Any,
        notice: Callable[[int, object, str], Awaitable[None]] | None = None,
        settled: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.sink = sink  # a Sink with react() and unreact()
        self.notice = notice  # (channel, key, text): one notice in the meeting's main channel
        self.settled = settled  # waits until what a channel's lane was doing is recorded (engine.settled)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def added(self, channel_id: int, message_id: int, user_id: int, emoji: str, *, ours: bool = False) -> bool:
        """A member reacted; False when the message is not one Concord relays. `ours`: the message was posted by
        Concord (a copy whose post may not be recorded yet, when the reaction comes right after it)."""
        family = await self.store.family(message_id)
        if family is None and ours and self.settled is not None:
            await self.settled(channel_id)
            family = await self.store.family(message_id)
        if family is None:
            return False
        await self.store.add_reaction(family.source.message_id, channel_id, message_id, emoji, user_id)
        await self._reconcile(family, emoji)
        return True

    async def removed(self, channel_id: int, message_id: int, user_id: int, emoji: str) -> bool:
        """A member took their reaction back."""
        family = await self.store.family(message_id)
        if family is None:
            return False
        await self.store.remove_reaction(message_id, emoji, user_id)
        await self._reconcile(family, emoji)
        return True

    async def tally(self, message_id: int) -> list[Tally] | None:
        """Who holds what across a message and its copies (members only, each counted once per emoji); None
        when the message is not one Concord relays."""
        family = await self.store.family(message_id)
        if family is None:
            return None
        language = {m.channel_id: m.language for m in family.members}
        rank = {m.language: i for i, m in enumerate(family.members)}  # ties: the original's language first
        people: defaultdict[str, set[int]] = defaultdict(set)
        where: defaultdict[str, defaultdict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        for r in await self.store.reactions(family.source.message_id):
            if r.user_id != MIRROR and r.channel_id in language:
                people[r.emoji].add(r.user_id)
                where[r.emoji][language[r.channel_id]].add(r.user_id)
        tallies = [
            Tally(
                e, len(who), dict(sorted(((c, len(u)) for c, u in where[e].items()), key=lambda i: (-i[1], rank[i[0]])))
            )
            for e, who in people.items()
        ]
        return sorted(tallies, key=lambda t: -t.people)

    async def _reconcile(self, family: Family, emoji: str) -> None:
        source_id = family.source.message_id
        lock = self._locks.get(source_id)
        if lock is None:
            lock = self._locks[source_id] = asyncio.Lock()
        async with lock:
            rows = [r for r in await self.store.reactions(source_id) if r.emoji == emoji]
            held = {r.channel_id for r in rows if r.user_id != MIRROR}
            mirrored = {r.message_id for r in rows if r.user_id == MIRROR}

            async def sync(member: Shown) -> None:  # one call per channel: the channels' rate limits are apart
                try:
                    if held and member.channel_id not in held and member.message_id not in mirrored:
                        await self.sink.react(member.channel_id, member.message_id, emoji)
                        await self.store.add_reaction(source_id, member.channel_id, member.message_id, emoji, MIRROR)
                    elif not held and member.message_id in mirrored:
                        await self.sink.unreact(member.channel_id, member.message_id, emoji)
                        await self.store.remove_reaction(member.message_id, emoji, MIRROR)
                except SinkError as exc:
                    await self._failed(member.channel_id, emoji, exc)

            await asyncio.gather(*(sync(m) for m in family.members))

    async def _failed(self, channel_id: int, emoji: str, exc: SinkError) -> None:
        log.warning("could not mirror reaction %s in channel %s: %s", emoji, channel_id, exc)
        if exc.permission and self.notice is not None:
            await self.notice(
                channel_id,
                ("permission", exc.permission),
                "⚠️ Concord cannot react in <#{channel}> ({language}): it lacks the **"
                f"{exc.permission}** permission there, so reactions are not shown across languages.",
            )


def describe(tallies: list[Tally]) -> str:
    """'✋ 14 across 6 languages (English 5, Español 4, ...)', one line per emoji."""
    if not tallies:
        return "Nobody has reacted to this message or its copies yet."
    lines = []
    for t in tallies:
        count = len(t.by_language)
        spread = f"across {count} languages" if count != 1 else "in 1 language"
        parts = ", ".join(f"{languages.get(code).native} {n}" for code, n in t.by_language.items())
        lines.append(f"{t.emoji} **{t.people}** {spread} ({parts})")
    return "\n".join(lines)
