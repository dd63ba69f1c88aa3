"""Reactions and threads across languages, and "Count reactions across languages".

- A reaction added to a message or any of its copies is mirrored onto the others (bot/reactions.py); the bot's
  own reactions are never mirrored back.
- A public thread started in a linked channel gets a counterpart under each copy, linked like a channel
  (bot/threads.py); a deleted thread is unlinked.
- Message menu → Apps → "Count reactions across languages": "✋ 14 across 6 languages", only for whoever asked.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.helpers import NO_PINGS, fit
from bot.reactions import ReactionMirror, describe
from bot.threads import ThreadMirror

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

log = logging.getLogger(__name__)


class Conversation(commands.Cog):
    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot
        self.reactions = ReactionMirror(bot.store, bot.sink, notice=bot.engine.notice, settled=bot.engine.settled)
        self.threads = ThreadMirror(bot.store, bot.engine, bot.sink, bot.translator)
        self.count_menu = app_commands.ContextMenu(name="Count reactions across languages", callback=self.count)
        self.count_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.count_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.count_menu.name, type=self.count_menu.type)

    def _ours(self, user_id: int) -> bool:
        return self.bot.user is not None and user_id == self.bot.user.id

    # reactions

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.guild_id is None or self._ours(payload.user_id):
            return  # Concord's own reactions (the mirrors) are never mirrored back
        author = payload.message_author_id
        ours = author is not None and (self._ours(author) or self.bot.sink.is_ours(author))  # a webhook's id
        try:
            await self.reactions.added(
                payload.channel_id, payload.message_id, payload.user_id, str(payload.emoji), ours=ours
            )
        except Exception:
            log.exception("could not mirror a reaction on %s in channel %s", payload.message_id, payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.guild_id is None or self._ours(payload.user_id):
            return
        try:
            await self.reactions.removed(payload.channel_id, payload.message_id, payload.user_id, str(payload.emoji))
        except Exception:
            log.exception("could not mirror a removed reaction on %s", payload.message_id)

    async def count(self, interaction: discord.Interaction, message: discord.Message) -> None:
        tallies = await self.reactions.tally(message.id)
        if tallies is None:
            text = "This message is not part of a meeting Concord relays, so it has no copies to count."
        else:
            text = describe(tallies)
        await interaction.response.send_message(fit(text), ephemeral=True, allowed_mentions=NO_PINGS)

    # threads

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        if self._ours(thread.owner_id) or thread.type is not discord.ChannelType.public_thread:
            return  # the counterparts Concord makes, and private threads, are not mirrored
        try:
            await self.threads.started(thread.id, thread.parent_id, thread.name)
        except Exception:
            log.exception("could not mirror thread %s of channel %s", thread.id, thread.parent_id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """A new session: make the thread counterparts a crash left unmade (threads of the catch-up window)."""
        try:
            await self.threads.resume(time.time() - self.bot.settings.catchup_hours * 3600)
        except Exception:
            log.exception("could not complete the threads started before the restart")

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        if await self.bot.store.channel(payload.thread_id) is not None:
            await self.bot.store.unlink_channel(payload.thread_id)


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(Conversation(bot))
