"""`python -m bot check`, the Discord part: log in over REST only and check what `run` needs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord

from bot.check import Finding
from bot.config import Settings, env_name
from bot.discord.bot import use_api_base
from bot.discord.helpers import MEETING_NEEDS, invite_url, lacking
from bot.roles import RoleBook

log = logging.getLogger(__name__)

MESSAGE_CONTENT_FLAGS = (
    discord.ApplicationFlags.gateway_message_content.flag
    | discord.ApplicationFlags.gateway_message_content_limited.flag
)
PROBE_TIMEOUT = 15.0  # seconds for each Discord request
PROBE_GUILDS = 25  # servers looked at in detail


async def probe_discord(settings: Settings) -> list[Finding]:
    """Log in over REST only (no gateway session) and check what `run` needs: the token, the Message Content
    intent, and in each server the applications.commands scope, the permissions and the role settings."""
    assert settings.discord_token is not None
    if settings.discord_api_base:
        await use_api_base(settings.discord_api_base)
    http = discord.http.HTTPClient(asyncio.get_running_loop())

    async def ask(coro: Any) -> Any:
        return await asyncio.wait_for(coro, PROBE_TIMEOUT)

    found: list[Finding] = []
    try:
        try:
            me = await ask(http.static_login(settings.discord_token.get_secret_value()))
        except discord.LoginFailure:
            return [
                Finding(
                    "fail",
                    "Discord login",
                    "Discord rejected the token",
                    "copy a fresh token (Developer Portal -> Bot -> Reset Token) into DISCORD_TOKEN",
                )
            ]
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return [Finding("fail", "Discord login", f"cannot reach Discord ({exc})", "check the network")]
        found.append(Finding("ok", "Discord login", f"logged in as {me['username']} (id {me['id']})"))
        app = await ask(http.application_info())
        app_id = int(app["id"])
        if int(app.get("flags") or 0) & MESSAGE_CONTENT_FLAGS:
            found.append(Finding("ok", "Message Content", "intent enabled"))
        else:
            found.append(
                Finding(
                    "fail",
                    "Message Content",
                    "the intent is off: Concord cannot read the messages it translates",
                    "Developer Portal -> Bot -> Privileged Gateway Intents -> enable Message Content Intent",
                )
            )
        guilds = await ask(http.get_guilds(200))
        invite = invite_url(app_id)
        if not guilds:
            found.append(Finding("fail", "servers", "the bot is in no server yet", f"invite it: {invite}"))
        test_guild = settings.test_guild_id
        if test_guild and all(int(g["id"]) != test_guild for g in guilds):
            found.append(
                Finding(
                    "fail",
                    env_name("test_guild_id"),
                    f"{test_guild} is not a server this bot is in",
                    f"set it to one of: {', '.join(g['id'] for g in guilds[:5]) or 'none yet'}, or invite the bot: "
                    f"{invite}",
                )
            )
        books = (RoleBook.of(settings, "volunteer_role"), RoleBook.of(settings, "facilitator_role"))
        for guild in guilds[:PROBE_GUILDS]:
            found += await _probe_guild(http, ask, guild, int(me["id"]), app_id, invite, books)
    except discord.HTTPException as exc:
        found.append(Finding("fail", "Discord", f"Discord answered {exc.status} {exc.text}", "try again later"))
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        found.append(Finding("fail", "Discord", f"Discord stopped answering ({exc!r})", "check the network"))
    finally:
        await http.close()
    return found


async def _probe_guild(
    http: Any, ask: Any, guild: dict[str, Any], me: int, app_id: int, invite: str, books: tuple[RoleBook, ...]
) -> list[Finding]:
    guild_id, subject = int(guild["id"]), f"server {guild['name']}"
    found = []
    try:
        await ask(http.get_guild_commands(app_id, guild_id))
        found.append(Finding("ok", subject, "slash commands allowed (applications.commands)"))
    except discord.Forbidden as exc:
        found.append(
            Finding(
                "fail",
                subject,
                f"Discord refuses slash commands here ({exc.status} {exc.text})",
                f"open the invite link again, it adds the applications.commands scope: {invite}",
            )
        )
    try:
        roles = await ask(http.get_roles(guild_id))
        member = await ask(http.get_member(guild_id, me))
    except discord.HTTPException as exc:
        found.append(Finding("warn", subject, f"cannot read roles ({exc.status} {exc.text})"))
        return found
    granted = discord.Permissions.none()
    held = {str(r) for r in member.get("roles", [])} | {str(guild_id)}  # @everyone's id is the server's
    for role in roles:
        if role["id"] in held:
            granted |= discord.Permissions(int(role["permissions"]))
    missing = lacking(granted, MEETING_NEEDS)
    if missing:
        found.append(
            Finding(
                "warn",
                subject,
                f"the bot's roles lack {', '.join(missing)}",
                f"give the bot's role {', '.join(missing)} (or invite it again: {invite})",
            )
        )
    pairs = [(int(r["id"]), r["name"]) for r in roles]
    for book in books:
        lookup = book.resolve(guild_id, guild["name"], pairs)
        if lookup.problem:
            found.append(Finding("warn", subject, lookup.problem, f"set {book.setting} to the role's ID"))
        elif lookup.role_id is not None:
            by = "" if book.value == str(lookup.role_id) else f" (by name; {book.setting}={lookup.role_id} is safer)"
            found.append(Finding("ok", subject, f"{book.setting}: role {lookup.label} ({lookup.role_id}){by}"))
    return found
