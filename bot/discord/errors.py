"""Who may run a command (Manage Server or a configured role), and the one place errors become replies."""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands

from bot import languages
from bot.discord.helpers import fit
from bot.glossary import GlossaryError
from bot.meetings import MeetingError
from bot.relay import CorrectionError
from bot.roles import RoleBook, RoleLookup

log = logging.getLogger(__name__)


class NotAllowed(app_commands.CheckFailure):
    """A command needs a configured role (or Manage Server). `problem`: why the role counts for nobody here."""

    action = "use this command"

    def __init__(self, role: str | None, problem: str | None = None) -> None:
        super().__init__(f"needs the {role} role or Manage Server" if role else "needs Manage Server")
        self.role = role
        self.problem = problem


class NotVolunteer(NotAllowed):
    """Changing the glossary or correcting translations needs the volunteer role (or Manage Server)."""

    action = "change the glossary or correct translations"


class NotFacilitator(NotAllowed):
    """Linking meeting channels needs the facilitator role (or Manage Server)."""

    action = "change meeting channels"


class BotLacks(Exception):
    """Concord itself lacks server permissions a command needs; checked before anything is changed."""

    def __init__(self, missing: list[str], action: str) -> None:
        super().__init__(f"Concord lacks {', '.join(missing)} to {action}")
        self.missing = missing
        self.action = action


class SetupError(Exception):
    """Discord refused a step of setting a meeting up; what the run made was undone. `permission`: the one the
    step needed, when Discord's answer was 403."""

    def __init__(self, what: str, detail: str, permission: str | None = None, *, repaired: bool = False) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail
        self.permission = permission
        self.repaired = repaired  # the meeting existed before this run: it is as it was


def _names(permissions: list[str]) -> str:
    bold = [f"**{p}**" for p in permissions]
    return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]


def role_lookup(book: RoleBook, guild: discord.Guild | None) -> RoleLookup:
    """The role `book` means in this server, resolved from the server's own role list (once, for a name)."""
    if guild is None:
        return RoleLookup(None, book.value, "the server is not in the bot's cache yet")
    return book.resolve(guild.id, guild.name, [(role.id, role.name) for role in guild.roles])


def require_role(interaction: discord.Interaction, book: RoleBook, error: type[NotAllowed]) -> None:
    """Checked server-side in every command that needs it: Manage Server, or the configured role."""
    if interaction.permissions.manage_guild:
        return
    found = role_lookup(book, interaction.guild)
    member = interaction.user
    if found.role_id is not None and isinstance(member, discord.Member) and member.get_role(found.role_id):
        return
    raise error(found.label, found.problem)


def require_volunteer(interaction: discord.Interaction) -> None:
    """In every command, button and form that changes the glossary (Discord's own command permissions are a
    display default the server's admins can change; a role can be taken away while a form is open)."""
    require_role(interaction, interaction.client.volunteers, NotVolunteer)  # type: ignore[attr-defined]


def _sentence(error: Exception) -> str:
    text = str(error).strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def explain(error: Exception) -> str | None:
    """A polite sentence for errors people can act on; None for bugs (those get logged)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, languages.UnknownLanguage):
        codes = ", ".join(f"`{code}`" for code in languages.LANGUAGES)
        return f"Sorry, I don't know the language code `{error.code}`. Please use one of: {codes}."
    if isinstance(error, NotAllowed):
        who = (
            f"members with the **{error.role}** role (or the **Manage Server** permission)"
            if error.role
            else "members with the **Manage Server** permission"
        )
        text = f"Sorry, only {who} can {error.action}."
        if isinstance(error, NotVolunteer):
            text += " Anyone can use `/glossary show` and `/glossary search`."
        if error.problem:
            text += f"\n-# For the bot's administrator: {error.problem}."
        return text
    if isinstance(error, BotLacks):
        noun = "permission" if len(error.missing) == 1 else "permissions"
        return (
            f"Sorry, Concord cannot {error.action}: it lacks the {_names(error.missing)} {noun} in this server. "
            "A server admin can give them in Server Settings → Roles → Concord (or invite Concord again with the "
            "link in the README). Nothing was changed."
        )
    if isinstance(error, SetupError):
        text = f"Sorry, Concord could not {error.what}: Discord refused ({error.detail})."
        if error.permission:
            text += f" Concord needs the **{error.permission}** permission there."
        undone = "What this run made was removed again" if error.repaired else "Nothing was created"
        return f"{text} {undone}."
    if isinstance(error, GlossaryError | CorrectionError | MeetingError):
        return f"Sorry, that did not work: {_sentence(error)} Nothing was changed."
    if isinstance(error, app_commands.MissingPermissions):
        return "Sorry, only members with the **Manage Server** permission can change meeting channels."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server channel."
    if isinstance(error, app_commands.CheckFailure):
        return "Sorry, you can't use this command here."
    return None


class ConcordTree(app_commands.CommandTree):
    """The one place slash-command errors become replies."""

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        """Also called by the cogs' modals and buttons, so every error reply reads the same."""
        text = explain(error)
        if text is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed in channel %s", command, interaction.channel_id, exc_info=error)
            text = "Sorry, something went wrong. It has been logged; please try again in a moment."
        text = fit(text)
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
