"""`/concord link | unlink | status`: bind channels to a meeting and a language.

Who may: members with Manage Server, or the facilitator role (`CONCORD_FACILITATOR_ROLE`: an ID, or a name
resolved once per server). Replies are ephemeral. Errors (unknown language, missing permission) are turned
into polite replies by the one handler in `bot.app.ConcordTree.on_error`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import languages
from bot.app import NotFacilitator, language_choices, require_role

if TYPE_CHECKING:
    from bot.app import ConcordBot


def describe(code: str) -> str:
    lang = languages.get(code)
    if code == "en":
        return "English (main channel)"
    return lang.english if lang.native == lang.english else f"{lang.english} · {lang.native}"


async def _facilitator_check(interaction: discord.Interaction) -> bool:
    require_role(interaction, interaction.client.facilitators, NotFacilitator)  # type: ignore[attr-defined]
    return True


# Server-side in every command: Manage Server, or the CONCORD_FACILITATOR_ROLE role.
facilitators_only = app_commands.check(_facilitator_check)


class Meetings(commands.Cog):
    concord = app_commands.Group(
        name="concord",
        description="Live interpretation channels for a meeting",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: ConcordBot) -> None:
        self.bot = bot
        if bot.settings.facilitator_role is not None:  # let facilitators see the commands; the check decides
            self.concord.default_permissions = None

    @concord.command(name="link", description="Make this channel a meeting's channel for one language")
    @app_commands.describe(meeting="Meeting name, e.g. ELAC", language="Language code; en is the main channel")
    @facilitators_only
    async def link(self, interaction: discord.Interaction, meeting: str, language: str) -> None:
        lang = languages.get(language)  # UnknownLanguage -> polite reply from the central handler
        found = await self.bot.store.create_meeting(interaction.guild_id, meeting.strip())
        await self.bot.store.link_channel(interaction.channel_id, found.id, lang.code)
        await interaction.response.send_message(
            f"Linked <#{interaction.channel_id}> to meeting **{found.name}** as {describe(lang.code)}.",
            ephemeral=True,
        )

    @concord.command(name="unlink", description="Stop relaying this channel")
    @facilitators_only
    async def unlink(self, interaction: discord.Interaction) -> None:
        removed = await self.bot.store.unlink_channel(interaction.channel_id)
        text = "This channel is no longer part of a meeting." if removed else "This channel was not linked."
        await interaction.response.send_message(text, ephemeral=True)

    @concord.command(name="status", description="Show this channel's meeting and its language channels")
    @facilitators_only
    async def status(self, interaction: discord.Interaction) -> None:
        store = self.bot.store
        here = await store.channel(interaction.channel_id)
        if here is None:
            await interaction.response.send_message(
                "This channel is not linked to a meeting. Use `/concord link` to link it.", ephemeral=True
            )
            return
        meeting = next((m for m in await store.meetings(interaction.guild_id) if m.id == here.meeting_id), None)
        channels = sorted(await store.meeting_channels(here.meeting_id), key=lambda c: c.language != "en")
        lines = [f"**{meeting.name if meeting else here.meeting_id}** — {len(channels)} channels"]
        lines += [f"• <#{c.channel_id}> — {describe(c.language)}" for c in channels]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @link.autocomplete("language")
    async def _language_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return language_choices(current, include_english=True)

    @link.autocomplete("meeting")
    async def _meeting_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        meetings = await self.bot.store.meetings(interaction.guild_id)
        return [app_commands.Choice(name=m.name, value=m.name) for m in meetings if typed in m.name.lower()][:25]

    @commands.command(name="sync")
    @commands.is_owner()
    async def sync(self, ctx: commands.Context, scope: Literal["here", "global"] = "here") -> None:
        """`@Concord sync` registers slash commands in this server (instant); `@Concord sync global` everywhere."""
        if scope == "global" or ctx.guild is None:
            synced = await self.bot.tree.sync()
        else:
            self.bot.tree.copy_global_to(guild=ctx.guild)
            synced = await self.bot.tree.sync(guild=ctx.guild)
        await ctx.reply(f"Synced {len(synced)} command(s) ({scope}).", mention_author=False)

    async def cog_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        if isinstance(error, commands.CheckFailure | commands.UserInputError):
            return  # someone else tried the owner's command, or mistyped it: stay quiet
        raise error


async def setup(bot: ConcordBot) -> None:
    await bot.add_cog(Meetings(bot))
