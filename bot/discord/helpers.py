"""Small helpers the cogs and the sink share: message formatting for Discord, links, autocomplete."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands

from bot import languages

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
NO_PINGS = discord.AllowedMentions.none()

# What Concord needs in a server, by the names Discord's settings show (the README's invite link asks for all).
RELAY_NEEDS = {
    "View Channels": discord.Permissions(view_channel=True),
    "Send Messages": discord.Permissions(send_messages=True),
    "Embed Links": discord.Permissions(embed_links=True),
    "Read Message History": discord.Permissions(read_message_history=True),
    "Manage Webhooks": discord.Permissions(manage_webhooks=True),
    "Attach Files": discord.Permissions(attach_files=True),  # files copied into each language channel
    "Add Reactions": discord.Permissions(add_reactions=True),  # reactions mirrored across languages
    "Create Public Threads": discord.Permissions(create_public_threads=True),  # threads mirrored
    "Send Messages in Threads": discord.Permissions(send_messages_in_threads=True),
}
# `/meeting create` also makes channels and roles, pins the welcome and the picker.
MEETING_NEEDS = {
    **RELAY_NEEDS,
    "Manage Channels": discord.Permissions(manage_channels=True),
    "Manage Roles": discord.Permissions(manage_roles=True),
    "Pin Messages": discord.Permissions(pin_messages=True),
}
INVITE_PERMISSIONS = 2252109856754768  # MEETING_NEEDS combined (tests check the two agree)
INVITE_SCOPES = ("bot", "applications.commands")

_RESERVED_NAME = re.compile(r"(disc)(ord)|(cl)(yde)", re.IGNORECASE)


def language_choices(current: str, *, include_english: bool = True) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a language option (Discord shows at most 25)."""
    return [
        app_commands.Choice(name=f"{lang.english} — {lang.native} ({lang.code})"[:100], value=lang.code)
        for lang in languages.search(current, include_english=include_english)
    ][:25]


def language_list_choices(current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for a comma-separated list ("es, vi, zh"): completes the last code typed."""
    head, _, last = current.rpartition(",")
    prefix = f"{head}," if head else ""
    taken = {part.strip().lower() for part in head.split(",")}
    return [
        app_commands.Choice(name=f"{prefix}{lang.english} — {lang.native} ({lang.code})"[-100:], value=prefix + code)
        for lang in languages.search(last, include_english=False)
        if (code := lang.code).lower() not in taken and len(prefix + code) <= 100
    ][:25]


def webhook_username(name: str) -> str:
    """A name Discord accepts for a webhook message: 1-80 characters, no "discord" or "clyde".

    A zero-width space splits the reserved words, so readers still see the author's own name.
    """
    cleaned = _RESERVED_NAME.sub(lambda m: "\u200b".join(g for g in m.groups() if g), " ".join(name.split()))
    cleaned = cleaned[:80].strip()
    return cleaned or "Participant"


def invite_url(application_id: int) -> str:
    """The link that adds the bot with the scopes and permissions Concord needs."""
    return discord.utils.oauth_url(
        application_id, permissions=discord.Permissions(INVITE_PERMISSIONS), scopes=INVITE_SCOPES
    )


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def reply_line(link: str) -> str:
    return f"> ↪ {link}\n"


def author_prefix(author_name: str) -> str:
    return f"**{discord.utils.escape_markdown(author_name)}:** "


def with_reply_line(content: str, link: str) -> str:
    """Webhooks cannot reply, so a quote line links to the message replied to.

    If the line would push the message over Discord's limit, it is left out: the text matters more.
    """
    line = reply_line(link)
    if len(line) + len(content) > MESSAGE_LIMIT:
        log.warning("reply line dropped: message already %d characters", len(content))
        return content
    return line + content


def with_author_prefix(content: str, author_name: str) -> str:
    """Plain-message fallback: the bot posts as itself, so the author's name leads the text."""
    prefix = author_prefix(author_name)
    if len(prefix) + len(content) <= MESSAGE_LIMIT:
        return prefix + content
    log.warning("fallback message cut to %d characters to fit the author's name", MESSAGE_LIMIT)
    return prefix + content[: MESSAGE_LIMIT - len(prefix) - 1] + "…"


def undecorate(content: str, *, plain: bool) -> str:
    """The relayed text of a message as posted: without the reply line, nor the author prefix the sink puts
    on plain (non-webhook) messages."""
    if content.startswith("> ↪ ") and "\n" in content:
        content = content.split("\n", 1)[1]
    if plain and content.startswith("**") and ":** " in content:
        content = content.split(":** ", 1)[1]
    return content


def fit(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Cut a reply to Discord's limit at a line break, saying so."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 2)
    return text[: cut if cut > 0 else limit - 2] + "\n…"


def lacking(granted: discord.Permissions, needs: dict[str, discord.Permissions]) -> list[str]:
    """The names of the permissions in `needs` that `granted` lacks (none for an administrator). Before Discord
    split Pin Messages off, Manage Messages allowed pinning: either one will do."""
    if granted.administrator:
        return []
    if granted.manage_messages:
        granted = granted | discord.Permissions(pin_messages=True)
    return [name for name, perm in needs.items() if not perm.is_subset(granted)]


def changed_by(user: discord.abc.User) -> str:
    """Who made a glossary change, as its audit row records it."""
    return f"{user.name} ({user.id})"


def language_name(code: str) -> str:
    lang = languages.get(code)
    return lang.english if lang.native == lang.english else f"{lang.english} · {lang.native}"
