"""Relay listeners: turn Discord message events into `Incoming` messages, edits and deletes for the engine.

The raw edit and delete events are used because they also fire for messages no longer in the cache.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.relay import Attachment, Incoming

if TYPE_CHECKING:
    from bot.app import ConcordBot

log = logging.getLogger(__name__)

RELAYED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


class Relay(commands.Cog):
    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot

    def incoming(self, message: discord.Message) -> Incoming:
        reply_to = None
        ref = message.reference
        if ref is not None and ref.type is discord.MessageReferenceType.reply:
            reply_to = ref.message_id
        return Incoming(
            message_id=message.id,
            channel_id=message.channel.id,
            author_id=message.author.id,
            author_name=message.author.display_name,
            content=message.content,
            avatar_url=message.author.display_avatar.url,
            reply_to=reply_to,
            attachments=tuple(Attachment(a.url, a.filename) for a in message.attachments),
            is_bot=message.author.bot or self.bot.sink.is_ours(message.webhook_id),
            webhook_id=message.webhook_id,
        )

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or message.type not in RELAYED_TYPES:
            return  # DMs, pins, joins, thread notices...
        # Bots and webhooks (our relayed copies among them) are flagged; the engine never relays them.
        try:
            await self.bot.engine.handle_message(self.incoming(message))
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
        if before is not None and before.content == after.content:
            return  # an embed unfurl, a pin...: nothing to re-translate
        try:
            await self.bot.engine.handle_edit(payload.channel_id, payload.message_id, after.content)
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

    async def _delete(self, channel_id: int, message_id: int) -> None:
        try:
            await self.bot.engine.handle_delete(channel_id, message_id)
        except Exception:
            log.exception("could not relay delete of %s in channel %s", message_id, channel_id)


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(Relay(bot))
