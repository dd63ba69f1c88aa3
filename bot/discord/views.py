"""UI views: the language picker pinned in a meeting's main channel.

The picker is a select menu whose custom id carries the meeting (`concord:lang:<meeting>:<page>`), handled by a
`DynamicItem`: after a restart Discord still sends picks to it, with nothing to re-register per meeting and no
timeout. Picking a language gives the member that language's role (which shows its channel) and takes away the
meeting's other language roles; English (the main channel) takes them all away.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord

from bot import languages
from bot.meetings import MeetingError, picker_choices, picker_placeholder
from bot.store import Room

if TYPE_CHECKING:
    from bot.discord.bot import ConcordBot

log = logging.getLogger(__name__)

CHOICES_PER_MENU = 25  # Discord's limit on a select menu's options


PICKER_ID = r"concord:lang:(?P<meeting>\d+):(?P<page>\d+)"


class LanguagePicker(discord.ui.DynamicItem[discord.ui.Select], template=PICKER_ID):
    def __init__(self, meeting_id: int, page: int = 0, select: discord.ui.Select | None = None) -> None:
        super().__init__(select or discord.ui.Select(custom_id=f"concord:lang:{meeting_id}:{page}", options=[]))
        self.meeting_id = meeting_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]
    ) -> LanguagePicker:
        return cls(int(match["meeting"]), int(match["page"]), item)

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ConcordBot = interaction.client  # type: ignore[assignment]
        try:
            await pick(bot, interaction, self.meeting_id, self.item.values[0])
        except Exception as exc:  # the one error handler words the reply
            await bot.tree.on_error(interaction, exc)  # type: ignore[arg-type]


def picker_view(meeting_id: int, codes: list[str]) -> discord.ui.View:
    """The picker for a meeting's languages: one select menu per 25 languages, never timing out."""
    view = discord.ui.View(timeout=None)
    choices = picker_choices(codes)
    placeholder = picker_placeholder(codes)
    for page, start in enumerate(range(0, len(choices), CHOICES_PER_MENU)):
        options = [
            discord.SelectOption(label=c.label, value=c.value, description=c.description)
            for c in choices[start : start + CHOICES_PER_MENU]
        ]
        select = discord.ui.Select(
            custom_id=f"concord:lang:{meeting_id}:{page}", placeholder=placeholder, options=options
        )
        view.add_item(LanguagePicker(meeting_id, page, select))
    return view


async def pick(bot: ConcordBot, interaction: discord.Interaction, meeting_id: int, code: str) -> None:
    """Give the member the role of the language picked, take the meeting's other language roles away."""
    member, guild = interaction.user, interaction.guild
    if not isinstance(member, discord.Member) or guild is None:
        raise MeetingError("the language picker works in a server only")
    meeting = await bot.store.meeting(meeting_id)
    rooms = await bot.store.rooms(meeting_id) if meeting is not None else []
    room = next((r for r in rooms if r.language == code), None)
    if meeting is None or room is None:
        raise MeetingError("this language is no longer part of the meeting; ask the facilitator")
    give = guild.get_role(room.role_id) if room.role_id else None
    if room.role_id and give is None:
        raise MeetingError(
            "this language's role is missing; ask the facilitator to run `/meeting create` again to repair it"
        )
    drop = [role for r in rooms if r.role_id not in (None, room.role_id) and (role := member.get_role(r.role_id))]
    reason = f"picked {languages.get(code).english} for {meeting.name}"
    await interaction.response.defer(ephemeral=True, thinking=True)  # role changes may outlast the 3 s to answer
    try:
        if give is not None and member.get_role(give.id) is None:
            await member.add_roles(give, reason=reason)
        if drop:
            await member.remove_roles(*drop, reason=reason)
    except discord.Forbidden:
        raise MeetingError(
            "Concord may not give roles here (it needs **Manage Roles**, and its own role must be above the "
            "language roles); please tell the facilitator"
        ) from None
    await bot.store.record_pick(meeting_id, member.id, code)
    await interaction.followup.send(picked_text(room), ephemeral=True)


def picked_text(room: Room) -> str:
    """Short and mostly names, so it needs no translation: "✅ Tiếng Việt → #tiếng-việt"."""
    return f"✅ **{languages.get(room.language).native}** → <#{room.channel_id}>"
