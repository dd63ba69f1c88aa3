"""Where relayed messages go: the `Sink` seam, plus in-memory and terminal sinks.

The relay engine only ever posts, edits or deletes through a Sink, so the same engine runs on Discord
(`bot.discord.sink.DiscordSink`), in tests (`MemorySink`) and in `python -m bot simulate` (`TerminalSink`).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TextIO, TypeVar

from bot.files import OutFile

DEFAULT_FILE_LIMIT = 10 * 1024 * 1024  # Discord's upload limit in a server without boosts, bytes
F = TypeVar("F")


@dataclass(frozen=True)
class Outgoing:
    """One message as it should appear in a target channel."""

    content: str  # at most 2000 characters
    author_name: str
    avatar_url: str | None = None
    reply_to: int | None = None  # id of the relayed counterpart in the same target channel
    rtl: bool = False
    files: tuple[OutFile, ...] = ()  # uploaded with a post
    keep_files: tuple[tuple[str, int], ...] | None = None  # on an edit: (name, size) of the files kept (None: all)


def kept(files: Sequence[F], keep: Sequence[tuple[str, int]], key: Callable[[F], tuple[str, int]]) -> list[F]:
    """The files of a copy to keep, in order: those matching `keep` by (name, size). Applying it twice keeps
    the same files, so an edit repeated after a crash removes nothing more."""
    wanted, out = list(keep), []
    for file in files:
        if wanted and key(file) == wanted[0]:
            out.append(file)
            wanted.pop(0)
    return out


class SinkError(Exception):
    """A post/edit/delete failed. `retryable`: trying again later may help (429, 5xx, timeouts, network).
    `gone`: the channel no longer exists. `permission`: the permission the bot lacks there, by its name in
    Discord's settings ("Send Messages"). `too_large`: the files were more than the channel takes in one post
    (the relay tries again with fewer, linking the others). A failed post may still have been made: the relay
    looks it up."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        gone: bool = False,
        permission: str | None = None,
        too_large: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = (retryable or too_large) and not gone and permission is None
        self.gone = gone
        self.permission = permission
        self.too_large = too_large


class Sink(Protocol):
    # (posts, seconds) a channel accepts before the platform makes it wait, or None; a channel that falls
    # behind gets consecutive messages of one speaker combined into one post.
    rate_limit: tuple[int, float] | None

    async def post(self, channel_id: int, message: Outgoing) -> int:
        """Post and return the new message id."""
        ...

    async def edit(self, channel_id: int, message_id: int, message: Outgoing) -> None:
        """Edit a message we posted; a message that is gone is not an error."""
        ...

    async def delete(self, channel_id: int, message_id: int) -> None:
        """Delete a message we posted; a message already gone is not an error."""
        ...

    async def find(self, channel_id: int, after: int | None, message: Outgoing) -> int | None:
        """The id of a message we posted in the channel after message `after` that shows `message`, if any:
        how a post whose answer was lost (a crash, a timeout) is found instead of being made twice."""
        ...

    def link(self, channel_id: int, message_id: int) -> str:
        """Where a reader can jump to a message."""
        ...

    # Optional (the relay and the conversation features check with getattr): a sink without them relays files
    # as links and mirrors no reactions or threads.
    #   file_limit(channel_id) -> int: bytes one post may upload there (the server's upload limit)
    #   react(channel_id, message_id, emoji) / unreact(...): Concord's own reaction on a message
    #   create_thread(channel_id, message_id | None, name) -> int: a thread from a message (or on its own)


@dataclass
class Posted:
    id: int
    channel_id: int
    message: Outgoing
    deleted: bool = False
    edits: int = 0


@dataclass
class MemoryThread:
    id: int
    channel_id: int
    message_id: int | None
    name: str


@dataclass
class MemorySink:
    """Keeps every channel's messages in memory; used by tests and the benchmark.

    `latency` adds a delay per call (a stand-in for Discord's round trip); `fail_next` makes the next
    N calls raise a retryable SinkError; `lose_next_reply` makes the next N posts succeed but raise as if the
    answer had been lost on the way back; `errors[channel]` is raised by every call to that channel;
    `fault(action, channel, message)` may return an error to raise for one call.
    """

    latency: float = 0.0
    fail_next: int = 0
    lose_next_reply: int = 0
    errors: dict[int, SinkError] = field(default_factory=dict)
    fault: Callable[[str, int, Outgoing | None], SinkError | None] | None = None
    rate_limit: tuple[int, float] | None = None
    upload_limit: int = DEFAULT_FILE_LIMIT
    messages: dict[int, Posted] = field(default_factory=dict)
    threads: dict[int, MemoryThread] = field(default_factory=dict)
    reactions: dict[int, set[str]] = field(default_factory=dict)  # message id -> Concord's own reactions
    calls: list[tuple[str, int]] = field(default_factory=list)  # (post | edit | delete | find | react..., channel)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(10_000_000))

    async def _call(self, action: str, channel_id: int, message: Outgoing | None = None) -> None:
        self.calls.append((action, channel_id))
        if self.latency:
            await asyncio.sleep(self.latency)
        if channel_id in self.errors:
            raise self.errors[channel_id]
        if self.fault is not None and (error := self.fault(action, channel_id, message)) is not None:
            raise error
        if self.fail_next > 0:
            self.fail_next -= 1
            raise SinkError("simulated outage")

    async def post(self, channel_id: int, message: Outgoing) -> int:
        await self._call("post", channel_id, message)
        posted = Posted(next(self._ids), channel_id, message)
        self.messages[posted.id] = posted
        if self.lose_next_reply > 0:
            self.lose_next_reply -= 1
            raise SinkError("simulated timeout after the post was made")
        return posted.id

    async def find(self, channel_id: int, after: int | None, message: Outgoing) -> int | None:
        await self._call("find", channel_id)
        for posted in sorted(self.messages.values(), key=lambda p: p.id):
            if posted.channel_id == channel_id and not posted.deleted and posted.id > (after or 0):
                if posted.message.content == message.content:
                    return posted.id
        return None

    def link(self, channel_id: int, message_id: int) -> str:
        return f"memory://{channel_id}/{message_id}"

    async def edit(self, channel_id: int, message_id: int, message: Outgoing) -> None:
        await self._call("edit", channel_id, message)
        posted = self.messages[message_id]
        files = posted.message.files
        if message.keep_files is not None:
            files = tuple(kept(files, message.keep_files, lambda f: (f.filename, len(f.data))))
        posted.message = replace(message, files=files, keep_files=None)
        posted.edits += 1

    def file_limit(self, channel_id: int) -> int:
        return self.upload_limit

    async def react(self, channel_id: int, message_id: int, emoji: str) -> None:
        await self._call("react", channel_id)
        self.reactions.setdefault(message_id, set()).add(emoji)

    async def unreact(self, channel_id: int, message_id: int, emoji: str) -> None:
        await self._call("unreact", channel_id)
        self.reactions.get(message_id, set()).discard(emoji)

    async def create_thread(self, channel_id: int, message_id: int | None, name: str) -> int:
        await self._call("thread", channel_id)
        thread = MemoryThread(message_id or next(self._ids), channel_id, message_id, name)
        self.threads[thread.id] = thread
        return thread.id

    async def delete(self, channel_id: int, message_id: int) -> None:
        await self._call("delete", channel_id)
        self.messages[message_id].deleted = True

    def channel(self, channel_id: int) -> list[Outgoing]:
        """Visible messages of a channel, oldest first."""
        return [
            p.message
            for p in sorted(self.messages.values(), key=lambda p: p.id)
            if p.channel_id == channel_id and not p.deleted
        ]

    def texts(self, channel_id: int) -> list[str]:
        return [m.content for m in self.channel(channel_id)]


@dataclass
class TerminalSink(MemorySink):
    """A MemorySink that also prints each action, labelled with the channel's name."""

    names: dict[int, str] = field(default_factory=dict)
    out: TextIO = sys.stdout

    def _print(self, channel_id: int, tag: str, message: Outgoing | None) -> None:
        label = self.names.get(channel_id, str(channel_id))
        body = f"{message.author_name}: {message.content}" if message else ""
        print(f"[#{label}] {tag}{body}", file=self.out, flush=True)

    async def post(self, channel_id: int, message: Outgoing) -> int:
        message_id = await super().post(channel_id, message)
        self._print(channel_id, "", message)
        return message_id

    async def edit(self, channel_id: int, message_id: int, message: Outgoing) -> None:
        await super().edit(channel_id, message_id, message)
        self._print(channel_id, "(edited) ", message)

    async def delete(self, channel_id: int, message_id: int) -> None:
        await super().delete(channel_id, message_id)
        self._print(channel_id, "(deleted) ", replace(self.messages[message_id].message, content="—"))
