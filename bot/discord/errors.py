"""Who may run a command (Manage Server or a configured role), and the one place errors become replies."""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands

from bot import languages
from bot.discord.helpers import fit
from bot.glossary import GlossaryError
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
    if isinstance(error, GlossaryError | CorrectionError):
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
