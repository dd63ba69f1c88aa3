"""Threads across languages: a thread started in one language channel exists in every other, from the copy of
the message it was started from, and its messages are relayed like a channel's.

A thread and its counterparts form a *thread group*: a meeting of its own (store.create_thread_group, active
while its meeting is) whose channels are the threads, one per language. The relay engine then treats them as it
treats channels: ordered lanes, the outbox, catch-up after a restart, edits and deletes, replies.

Order: the group is set up while the new thread's ordered path is held (`engine.ordered`), so a message posted
in it right away waits until every counterpart exists and is linked. Each counterpart is made in its channel's
lane (`engine.in_lane`): after the copy of the starting message has been posted there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot import languages
from bot.glossary import TermContext
from bot.relay import RelayEngine
from bot.sinks import SinkError
from bot.store import Channel, Store
from bot.translation import TranslationService

log = logging.getLogger(__name__)

NAME_LIMIT = 100  # Discord's limit for a thread name
GROUP_PREFIX = "thread "  # a thread group's name: "thread <id of the thread started>: <its name>"
SETUP_WAIT = 30.0  # longest a new thread's first messages wait for its counterparts (a stalled channel)
CREATE_TRIES = 3  # a thread Discord fails to create (5xx, 429, timeout) is asked for again, after 1 s then 2 s


class ThreadMirror:
    def __init__(self, store: Store, engine: RelayEngine, sink: Any, translator: TranslationService) -> None:
        self.store = store
        self.engine = engine
        self.sink = sink  # a Sink with create_thread()
        self.translator = translator

    async def started(self, thread_id: int, parent_id: int, name: str) -> bool:
        """A member started a thread in a channel (from the message `thread_id`, or on its own): make its
        counterparts in the meeting's other channels and link them all. Called again for a thread already
        linked, it makes the counterparts still missing (after a crash). False when there is nothing to do."""
        async with self.engine.ordered(thread_id):  # taken at once: the thread's first messages wait for this
            parent = await self.store.channel(parent_id)
            if parent is None:
                return False
            linked = await self.store.channel(thread_id)
            if linked is None:
                group = await self.store.create_thread_group(parent.meeting_id, f"{GROUP_PREFIX}{thread_id}: {name}")
                await self.store.link_channel(thread_id, group, parent.language)
            elif linked.meeting_id != parent.meeting_id:
                group = linked.meeting_id
            else:
                return False
            have = {c.language for c in await self.store.meeting_channels(group)}
            others = [
                c
                for c in await self.store.meeting_channels(parent.meeting_id)
                if c.channel_id != parent_id and c.language not in have
            ]
            if not others:
                return False
            made = [
                asyncio.ensure_future(
                    self.engine.in_lane(c.channel_id, lambda c=c: self._counterpart(thread_id, group, parent, c, name))
                )
                for c in others
            ]
            for task in made:
                task.add_done_callback(lambda t: _report(thread_id, t))
            _, waiting = await asyncio.wait(made, timeout=SETUP_WAIT)
            if waiting:
                log.warning("thread %s: %d channel(s) stalled; their threads follow later", thread_id, len(waiting))
        return True

    async def resume(self, since: float) -> int:
        """Make the counterparts a crash left unmade, for threads started after `since` (a timestamp); returns
        for how many threads some were made."""
        done = 0
        for group in await self.store.thread_groups(since):
            head, _, name = group.name.partition(": ")
            origin = int(head.removeprefix(GROUP_PREFIX)) if head.startswith(GROUP_PREFIX) else None
            linked = await self.store.channel(origin) if origin else None
            if origin is None or linked is None:
                continue
            parents = await self.store.meeting_channels(group.parent_id)
            parent = next((c for c in parents if c.language == linked.language), None)
            if parent is not None:
                done += await self.started(origin, parent.channel_id, name)
        return done

    async def _counterpart(self, thread_id: int, group: int, parent: Channel, channel: Channel, name: str) -> None:
        """The thread in `channel` that stands for `thread_id`: from the message there that stands for the one
        the thread was started from (its copy, or the original), else a thread of its own."""
        anchor = await self.engine.counterpart(thread_id, channel.channel_id)
        title = await self._name(name, parent, channel)
        hold = self.engine.ordered(anchor) if anchor is not None else contextlib.nullcontext()
        async with hold:  # a thread from a message has the message's id: its first messages wait for the link
            made = await self._create(channel, anchor, title)
            if made is not None:
                await self.store.link_channel(made, group, channel.language)

    async def _create(self, channel: Channel, anchor: int | None, title: str) -> int | None:
        """The new thread's id; None (logged, and a notice for a missing permission) when it cannot be made."""
        for attempt in range(CREATE_TRIES):
            try:
                return await self.sink.create_thread(channel.channel_id, anchor, title)
            except SinkError as exc:
                if exc.retryable and attempt < CREATE_TRIES - 1:
                    await asyncio.sleep(attempt + 1)
                    continue
                if anchor is not None and not (exc.retryable or exc.permission or exc.gone):
                    anchor = None  # e.g. the copy was combined into a post that has a thread already
                    continue
                log.warning("no thread in channel %s: %s", channel.channel_id, exc)
                if exc.permission:
                    await self.engine.notice(
                        channel.channel_id,
                        ("permission", exc.permission),
                        "⚠️ Concord cannot start threads in <#{channel}> ({language}): it lacks the **"
                        f"{exc.permission}** permission there, so threads are not mirrored into it.",
                    )
                return None
        return None

    async def _name(self, name: str, parent: Channel, channel: Channel) -> str:
        """The thread's name in the channel's language (glossary applied); the original if that fails."""
        guild = await self.store.meeting_guild(parent.meeting_id)
        translated = await self.translator.translate(
            name,
            languages.get(parent.language),
            languages.get(channel.language),
            context=TermContext(guild),
        )
        return (translated.text if translated.ok else name).strip()[:NAME_LIMIT] or name[:NAME_LIMIT]


def _report(thread_id: int, task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("thread %s: a counterpart could not be made", thread_id, exc_info=task.exception())
