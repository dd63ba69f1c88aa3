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

# View Channels, Send Messages, Embed Links, Read Message History, Manage Webhooks, Attach Files, Add Reactions,
# Create Public Threads, Send Messages in Threads (the README's invite link)
INVITE_PERMISSIONS = 309774634048
INVITE_SCOPES = ("bot", "applications.commands")

_RESERVED_NAME = re.compile(r"(disc)(ord)|(cl)(yde)", re.IGNORECASE)


def language_choices(current: str, *, include_english: bool = True) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a language option (Discord shows at most 25)."""
    return [
        app_commands.Choice(name=f"{lang.english} — {lang.native} ({lang.code})"[:100], value=lang.code)
        for lang in languages.search(current, include_english=include_english)
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


def with_reply_line(content: str, link: str) -> str:
    """Webhooks cannot reply, so a quote line links to the message replied to.

    If the line would push the message over Discord's limit, it is left out: the text matters more.
    """
    line = f"> ↪ {link}\n"
    if len(line) + len(content) > MESSAGE_LIMIT:
        log.warning("reply line dropped: message already %d characters", len(content))
        return content
    return line + content


def with_author_prefix(content: str, author_name: str) -> str:
    """Plain-message fallback: the bot posts as itself, so the author's name leads the text."""
    prefix = f"**{discord.utils.escape_markdown(author_name)}:** "
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


def changed_by(user: discord.abc.User) -> str:
    """Who made a glossary change, as its audit row records it."""
    return f"{user.name} ({user.id})"


def language_name(code: str) -> str:
    lang = languages.get(code)
    return lang.english if lang.native == lang.english else f"{lang.english} · {lang.native}"
