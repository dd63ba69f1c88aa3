"""Relay listeners: turn Discord message events into `Incoming` messages, edits and deletes for the engine.

The raw edit and delete events are used because they also fire for messages no longer in the cache. The
engine handles each channel's events one at a time, in the order they arrive here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.discord.sink import attachments_of, to_incoming

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

log = logging.getLogger(__name__)


class Relay(commands.Cog):
    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        incoming = to_incoming(message, self.bot.sink)
        if incoming is None:
            return  # DMs, pins, joins, thread notices...
        try:
            await self.bot.engine.handle_message(incoming)
        except Exception:
            log.exception("could not relay message %s in channel %s", message.id, message.channel.id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        if payload.guild_id is None or "content" not in payload.data:
            return
        after = payload.message
        if after.author.bot or after.webhook_id is not None:
            return
        before = payload.cached_message
        files = attachments_of(after)
        if before is not None and before.content == after.content and _ids(attachments_of(before)) == _ids(files):
            return  # an embed unfurl, a pin...: nothing to re-translate
        try:
            await self.bot.engine.handle_edit(payload.channel_id, payload.message_id, after.content, files)
        except Exception:
            log.exception("could not relay edit of %s in channel %s", payload.message_id, payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        await self._delete(payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if payload.guild_id is None:
            return
        for message_id in sorted(payload.message_ids):
            await self._delete(payload.channel_id, message_id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A linked channel deleted by an admin is unlinked, with one notice in its meeting's main channel."""
        if await self.bot.store.meeting_of_channel(channel.id) is not None:  # relaying now or not (paused)
            await self.bot.engine.channel_gone(channel.id)

    async def _delete(self, channel_id: int, message_id: int) -> None:
        try:
            await self.bot.engine.handle_delete(channel_id, message_id)
        except Exception:
            log.exception("could not relay delete of %s in channel %s", message_id, channel_id)


def _ids(files: tuple) -> list[int]:
    return [f.id for f in files]


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(Relay(bot))
