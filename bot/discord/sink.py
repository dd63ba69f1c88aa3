"""The webhook `Sink`: relayed messages posted under the author's name and avatar, pinging nobody; and how a
Discord message becomes the relay engine's `Incoming`."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.bidi import mark_rtl, unmark
from bot.discord.helpers import (
    MESSAGE_LIMIT,
    NO_PINGS,
    author_prefix,
    message_link,
    reply_line,
    undecorate,
    webhook_username,
    with_author_prefix,
    with_reply_line,
)
from bot.files import OutFile
from bot.relay import Attachment, Incoming
from bot.sinks import DEFAULT_FILE_LIMIT, Outgoing, SinkError, kept

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Concord"
WEBHOOK_RECHECK = 300.0  # seconds before asking again for a channel where Manage Webhooks was missing
LOOKUP_WINDOW = 50  # messages read after the last known copy when looking for an unconfirmed post
RELAYED_TYPES = (discord.MessageType.default, discord.MessageType.reply)

UNKNOWN_CHANNEL = 10003


@contextlib.contextmanager
def _as_sink_error(action: str, channel_id: int, *, permission: str = "Send Messages") -> Iterator[None]:
    """Discord failures as SinkError: 429, 5xx, timeouts and network errors may pass; an unknown channel is
    gone; 403 names the `permission` the action needs; other 4xx will not pass."""
    try:
        yield
    except discord.Forbidden as exc:
        raise SinkError(f"{action} in {channel_id}: {exc.status} {exc.text}", permission=permission) from exc
    except discord.NotFound as exc:
        gone = exc.code == UNKNOWN_CHANNEL
        raise SinkError(f"{action} in {channel_id}: {exc.status} {exc.text}", gone=gone, retryable=False) from exc
    except discord.HTTPException as exc:
        retryable = exc.status == 429 or exc.status >= 500
        too_large = exc.status == 413
        raise SinkError(
            f"{action} in {channel_id}: {exc.status} {exc.text}", retryable=retryable, too_large=too_large
        ) from exc
    except TimeoutError as exc:
        raise SinkError(f"{action} in {channel_id}: no answer from Discord in time", retryable=True) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise SinkError(f"{action} in {channel_id}: {exc!r}", retryable=True) from exc


def to_incoming(message: discord.Message, sink: DiscordSink) -> Incoming | None:
    """A Discord message as the relay engine sees it; None for what is never relayed (DMs, pins, joins...)."""
    if message.guild is None or message.type not in RELAYED_TYPES:
        return None
    reply_to = None
    ref = message.reference
    if ref is not None and ref.type is discord.MessageReferenceType.reply:
        reply_to = ref.message_id
    # Bots and webhooks (our relayed copies among them) are flagged; the engine never relays them.
    return Incoming(
        message_id=message.id,
        channel_id=message.channel.id,
        author_id=message.author.id,
        author_name=message.author.display_name,
        content=message.content,
        avatar_url=message.author.display_avatar.url,
        reply_to=reply_to,
        attachments=attachments_of(message),
        is_bot=message.author.bot or sink.is_ours(message.webhook_id),
        webhook_id=message.webhook_id,
    )


def attachments_of(message: discord.Message) -> tuple[Attachment, ...]:
    return tuple(Attachment(a.url, a.filename, a.size, a.description, a.id) for a in message.attachments)


def _files(files: tuple[OutFile, ...]) -> dict[str, list[discord.File]]:
    """The `files=` argument of a post (none at all without files: a plain JSON request)."""
    if not files:
        return {}
    return {"files": [discord.File(io.BytesIO(f.data), filename=f.filename, description=f.description) for f in files]}


# --- the Sink ------------------------------------------------------------------------------------


class DiscordSink:
    """Posts relayed messages through one "Concord" webhook per channel, under the author's name and
    avatar, pinging nobody. Without Manage Webhooks it falls back to plain bot messages (and says so once).

    Every call is bounded by `timeout`: discord.py waits out 429s and retries 5xx for about 25 s on its own,
    which would stall a channel silently; past the timeout the relay holds the channel and logs the stall."""

    rate_limit = (5, 2.0)  # Discord's usual allowance per webhook: posts, seconds

    def __init__(self, bot: commands.Bot, *, timeout: float = 10.0) -> None:
        self.bot = bot
        self.timeout = timeout
        self.webhook_ids: set[int] = set()  # our webhooks: their echoes must never be relayed
        self.on_notice: Callable[[int, object, str], Awaitable[None]] | None = None  # (channel, key, text)
        self._webhooks: dict[int, discord.Webhook] = {}
        self._denied: dict[int, float] = {}  # channel id -> when to ask for a webhook again
        self._locks: dict[int, asyncio.Lock] = {}
        self._guilds: dict[int, int] = {}  # channel id -> guild id, for links

    def is_ours(self, webhook_id: int | None) -> bool:
        return webhook_id is not None and webhook_id in self.webhook_ids

    # Sink protocol

    async def post(self, channel_id: int, message: Outgoing) -> int:
        channel = await self._channel(channel_id)
        with _as_sink_error("post", channel_id):
            async with asyncio.timeout(self.timeout):
                for _ in range(2):  # a second time when our webhook was deleted behind our back
                    hook = await self._webhook(channel)
                    if hook is None:
                        break
                    try:
                        sent = await hook.send(
                            content=self._webhook_content(channel, message),
                            username=webhook_username(message.author_name),
                            avatar_url=message.avatar_url or discord.utils.MISSING,
                            allowed_mentions=NO_PINGS,
                            wait=True,
                            **_files(message.files),
                            **self._thread(channel),
                        )
                        return sent.id
                    except discord.NotFound as exc:
                        if exc.code == UNKNOWN_CHANNEL:
                            raise
                        log.warning("our webhook in #%s was deleted: making a new one", channel)
                        self._forget(channel)
                reference = None
                if message.reply_to is not None:
                    reference = discord.MessageReference(
                        message_id=message.reply_to,
                        channel_id=channel.id,
                        guild_id=channel.guild.id,
                        fail_if_not_exists=False,
                    )
                sent = await channel.send(
                    content=self._plain_content(message),
                    allowed_mentions=NO_PINGS,
                    reference=reference,
                    **_files(message.files),
                )
                return sent.id

    async def edit(self, channel_id: int, message_id: int, message: Outgoing) -> None:
        channel = await self._channel(channel_id)
        with _as_sink_error("edit", channel_id):
            async with asyncio.timeout(self.timeout):
                hook = await self._webhook(channel)
                if hook is not None:
                    try:
                        kept = {}
                        if message.keep_files is not None:
                            shown = await hook.fetch_message(message_id, **self._thread(channel))
                            kept = {"attachments": _kept(shown, message.keep_files)}
                        await hook.edit_message(
                            message_id,
                            content=self._webhook_content(channel, message),
                            allowed_mentions=NO_PINGS,
                            **kept,
                            **self._thread(channel),
                        )
                        return
                    except discord.NotFound:
                        pass  # deleted, or a plain message posted while webhooks were not allowed
                try:
                    kept = {}
                    if message.keep_files is not None:
                        kept = {"attachments": _kept(await channel.fetch_message(message_id), message.keep_files)}
                    await channel.get_partial_message(message_id).edit(
                        content=self._plain_content(message),
                        allowed_mentions=NO_PINGS,
                        **kept,
                    )
                except discord.NotFound:
                    log.info("message %s in %s is gone; nothing to edit", message_id, channel_id)
                except discord.Forbidden:  # posted by a webhook an admin deleted: nobody can edit it now
                    log.warning("message %s in %s can no longer be edited: its webhook is gone", message_id, channel_id)

    async def delete(self, channel_id: int, message_id: int) -> None:
        channel = await self._channel(channel_id)
        with _as_sink_error("delete", channel_id, permission="Manage Messages"):
            async with asyncio.timeout(self.timeout):
                hook = await self._webhook(channel)
                if hook is not None:
                    try:
                        await hook.delete_message(message_id, **self._thread(channel))
                        return
                    except discord.NotFound:
                        pass
                try:
                    await channel.get_partial_message(message_id).delete()
                except discord.NotFound:
                    pass  # already gone

    async def find(self, channel_id: int, after: int | None, message: Outgoing) -> int | None:
        """Our message showing `message` among the first LOOKUP_WINDOW after `after` (see Sink.find)."""
        channel = await self._channel(channel_id)
        with _as_sink_error("look up a post", channel_id, permission="Read Message History"):
            async with asyncio.timeout(self.timeout):
                await self._webhook(channel)  # learn our webhook's id in this channel
                me = self.bot.user.id if self.bot.user else None
                start = discord.Object(after) if after else None
                async for found in channel.history(after=start, limit=LOOKUP_WINDOW, oldest_first=True):
                    plain = found.webhook_id is None
                    ours = self.is_ours(found.webhook_id) or (plain and found.author.id == me)
                    if ours and unmark(undecorate(found.content, plain=plain)) == unmark(message.content):
                        return found.id
        return None

    async def prepare(self, channel_id: int) -> bool:
        """Make sure our webhook exists in a channel (a meeting being set up); False without Manage Webhooks."""
        return await self._webhook(await self._channel(channel_id)) is not None

    def link(self, channel_id: int, message_id: int) -> str:
        channel = self.bot.get_channel(channel_id)
        guild_id = channel.guild.id if channel is not None else self._guilds.get(channel_id, 0)
        return message_link(guild_id, channel_id, message_id)

    def file_limit(self, channel_id: int) -> int:
        """The server's upload limit (it grows with boosts)."""
        channel = self.bot.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        return guild.filesize_limit if guild is not None else DEFAULT_FILE_LIMIT

    # reactions and threads (the conversation features)

    async def react(self, channel_id: int, message_id: int, emoji: str) -> None:
        channel = await self._channel(channel_id)
        with _as_sink_error("react", channel_id, permission="Add Reactions"):
            async with asyncio.timeout(self.timeout):
                await channel.get_partial_message(message_id).add_reaction(emoji)

    async def unreact(self, channel_id: int, message_id: int, emoji: str) -> None:
        channel = await self._channel(channel_id)
        with _as_sink_error("remove a reaction", channel_id, permission="Add Reactions"):
            async with asyncio.timeout(self.timeout):
                try:
                    await channel.get_partial_message(message_id).remove_reaction(emoji, discord.Object(self._me()))
                except discord.NotFound:
                    pass  # the message or the reaction is gone already

    async def create_thread(self, channel_id: int, message_id: int | None, name: str) -> int:
        """A public thread from a message (or on its own when `message_id` is None); its id."""
        channel = await self._channel(channel_id)
        with _as_sink_error("create a thread", channel_id, permission="Create Public Threads"):
            async with asyncio.timeout(self.timeout):
                if message_id is not None:
                    thread = await channel.get_partial_message(message_id).create_thread(name=name)
                else:
                    thread = await channel.create_thread(name=name, type=discord.ChannelType.public_thread)
        return thread.id

    def _me(self) -> int:
        return self.bot.user.id if self.bot.user else 0

    # helpers

    def _webhook_content(self, channel: Any, message: Outgoing) -> str:
        if message.reply_to is None:
            return self._marked(message, MESSAGE_LIMIT)
        link = message_link(channel.guild.id, channel.id, message.reply_to)
        room = MESSAGE_LIMIT - len(reply_line(link))  # the reply line first, direction marks where room is left
        return with_reply_line(self._marked(message, room if len(message.content) <= room else MESSAGE_LIMIT), link)

    def _plain_content(self, message: Outgoing) -> str:
        room = MESSAGE_LIMIT - len(author_prefix(message.author_name))
        return with_author_prefix(self._marked(message, room), message.author_name)

    @staticmethod
    def _marked(message: Outgoing, limit: int) -> str:
        """Right-to-left channels get direction marks (bot.bidi), never beyond Discord's limit."""
        return mark_rtl(message.content, limit=limit) if message.rtl else message.content

    @staticmethod
    def _thread(channel: Any) -> dict[str, Any]:
        return {"thread": channel} if isinstance(channel, discord.Thread) else {}

    @staticmethod
    def _host(channel: Any) -> Any:
        """Webhooks live on the parent of a thread."""
        return channel.parent if isinstance(channel, discord.Thread) else channel

    async def _channel(self, channel_id: int) -> Any:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            with _as_sink_error("find channel", channel_id, permission="View Channel"):
                async with asyncio.timeout(self.timeout):
                    channel = await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            raise SinkError(f"channel {channel_id} cannot hold relayed messages", retryable=False)
        self._guilds[channel_id] = channel.guild.id
        return channel

    def _forget(self, channel: Any) -> None:
        hook = self._webhooks.pop(self._host(channel).id, None)
        if hook is not None:
            self.webhook_ids.discard(hook.id)

    async def _webhook(self, channel: Any) -> discord.Webhook | None:
        """Our webhook for the channel: cached, else an existing "Concord" one of ours, else a new one.

        None when the bot lacks Manage Webhooks there (asked again after WEBHOOK_RECHECK seconds).
        """
        host = self._host(channel)
        if (hook := self._webhooks.get(host.id)) is not None:
            return hook
        if self._denied.get(host.id, 0.0) > time.monotonic():
            return None
        async with self._locks.setdefault(host.id, asyncio.Lock()):
            if (hook := self._webhooks.get(host.id)) is not None:
                return hook
            me = self.bot.user.id if self.bot.user else None
            try:
                hooks = await host.webhooks()
                hook = next(
                    (h for h in hooks if h.name == WEBHOOK_NAME and h.token and h.user and h.user.id == me),
                    None,
                )
                if hook is None:
                    hook = await host.create_webhook(name=WEBHOOK_NAME, reason="Concord relays translated messages")
            except discord.Forbidden:
                log.warning("no Manage Webhooks in #%s (%s): posting plain messages", host, host.id)
                self._denied[host.id] = time.monotonic() + WEBHOOK_RECHECK
                if self.on_notice is not None:
                    await self.on_notice(
                        channel.id,
                        ("permission", "Manage Webhooks"),
                        "ℹ️ Concord lacks the **Manage Webhooks** permission in <#{channel}> ({language}), so "
                        "relayed messages appear there as plain messages from Concord, each starting with the "
                        "speaker's name. Give Concord that permission to show the speaker's name and picture.",
                    )
                return None
            self._denied.pop(host.id, None)
            self._webhooks[host.id] = hook
            self.webhook_ids.add(hook.id)
            return hook


def _kept(message: discord.Message, keep: tuple[tuple[str, int], ...]) -> list[discord.Attachment]:
    """The attachments of a copy to keep (by name and size)."""
    return kept(message.attachments, keep, lambda a: (a.filename, a.size))
