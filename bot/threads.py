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
SETUP_WAIT = 30.0  # longest a new thread's first messages wait for its counterparts (a stalled channel)


class ThreadMirror:
    def __init__(self, store: Store, engine: RelayEngine, sink: Any, translator: TranslationService) -> None:
        self.store = store
        self.engine = engine
        self.sink = sink  # a Sink with create_thread()
        self.translator = translator

    async def started(self, thread_id: int, parent_id: int, name: str) -> bool:
        """A member started a thread in a channel (from the message `thread_id`, or on its own): make its
        counterparts in the meeting's other channels and link them all. False when the channel is not linked."""
        async with self.engine.ordered(thread_id):  # taken at once: the thread's first messages wait for this
            parent = await self.store.channel(parent_id)
            if parent is None or await self.store.channel(thread_id) is not None:
                return False
            group = await self.store.create_thread_group(parent.meeting_id, f"thread {thread_id}")
            await self.store.link_channel(thread_id, group, parent.language)
            others = [c for c in await self.store.meeting_channels(parent.meeting_id) if c.channel_id != parent_id]
            made = [
                asyncio.ensure_future(
                    self.engine.in_lane(c.channel_id, lambda c=c: self._counterpart(thread_id, group, parent, c, name))
                )
                for c in others
            ]
            done, waiting = await asyncio.wait(made, timeout=SETUP_WAIT) if made else (set(), set())
            if waiting:
                log.warning("thread %s: %d channel(s) stalled; their threads follow later", thread_id, len(waiting))
            for task in done:
                if task.exception() is not None:
                    log.error("thread %s: a counterpart could not be made", thread_id, exc_info=task.exception())
        return True

    async def _counterpart(self, thread_id: int, group: int, parent: Channel, channel: Channel, name: str) -> None:
        """The thread in `channel` that stands for `thread_id`: from the message there that stands for the one
        the thread was started from (its copy, or the original), else a thread of its own."""
        anchor = await self.engine.counterpart(thread_id, channel.channel_id)
        title = await self._name(name, parent, channel)
        hold = self.engine.ordered(anchor) if anchor is not None else contextlib.nullcontext()
        async with hold:  # a thread from a message has the message's id: its first messages wait for the link
            try:
                made = await self.sink.create_thread(channel.channel_id, anchor, title)
            except SinkError as exc:
                if anchor is None or exc.permission or exc.gone:
                    log.warning("no thread for %s in channel %s: %s", thread_id, channel.channel_id, exc)
                    return
                # e.g. the copy was combined with another message whose post has a thread already
                made = await self.sink.create_thread(channel.channel_id, None, title)
            await self.store.link_channel(made, group, channel.language)

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
