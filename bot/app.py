"""The Discord adapter: the `commands.Bot` subclass, the webhook `Sink`, and `run()`.

This is the only module in `bot/` that imports discord. `run()` builds the long-lived things (store,
translator) with `async with` and hands them to the bot; `setup_hook` builds the sink and the relay
engine and loads the cogs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import languages
from bot.check import Finding
from bot.config import Settings, env_name
from bot.glossary import Glossary, GlossaryError
from bot.relay import CorrectionError, RelayEngine
from bot.roles import RoleBook, RoleLookup
from bot.sinks import Outgoing, SinkError
from bot.store import Store
from bot.translation import TranslationService, build_translator

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.relay", "cogs.meetings", "cogs.glossary")
WEBHOOK_NAME = "Concord"
MESSAGE_LIMIT = 2000
NO_PINGS = discord.AllowedMentions.none()
WEBHOOK_RECHECK = 300.0  # seconds before asking again for a channel where Manage Webhooks was missing
CLOSE_GRACE = 5.0  # seconds `close()` waits for queued deliveries before cancelling them

# View Channels, Send Messages, Embed Links, Read Message History, Manage Webhooks (the README's invite link)
INVITE_PERMISSIONS = 536955904
INVITE_SCOPES = ("bot", "applications.commands")

_RESERVED_NAME = re.compile(r"(disc)(ord)|(cl)(yde)", re.IGNORECASE)


# --- pure helpers --------------------------------------------------------------------------------


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


@contextlib.contextmanager
def _as_sink_error(action: str, channel_id: int) -> Iterator[None]:
    """Discord failures as SinkError: 429 and 5xx may pass, other 4xx will not."""
    try:
        yield
    except discord.HTTPException as exc:
        retryable = exc.status == 429 or exc.status >= 500
        raise SinkError(f"{action} in {channel_id}: {exc.status} {exc.text}", retryable=retryable) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SinkError(f"{action} in {channel_id}: {exc!r}", retryable=True) from exc


# --- the Sink ------------------------------------------------------------------------------------


class DiscordSink:
    """Posts relayed messages through one "Concord" webhook per channel, under the author's name and
    avatar, pinging nobody. Without Manage Webhooks it falls back to plain bot messages."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.webhook_ids: set[int] = set()  # our webhooks: their echoes must never be relayed
        self._webhooks: dict[int, discord.Webhook] = {}
        self._denied: dict[int, float] = {}  # channel id -> when to ask for a webhook again
        self._locks: dict[int, asyncio.Lock] = {}

    def is_ours(self, webhook_id: int | None) -> bool:
        return webhook_id is not None and webhook_id in self.webhook_ids

    # Sink protocol

    async def post(self, channel_id: int, message: Outgoing) -> int:
        channel = await self._channel(channel_id)
        with _as_sink_error("post", channel_id):
            for _ in range(2):  # a second time when our webhook was deleted behind our back
                hook = await self._webhook(channel)
                if hook is None:
                    break
                try:
                    sent = await hook.send(
                        content=self._webhook_content(channel, message),
                        username=webhook_username(message.author_name),
                        avatar_url=message.avatar_url or discord.utils.MISSING,
                        allowed_mentions=NO_PINGS,
                        wait=True,
                        **self._thread(channel),
                    )
                    return sent.id
                except discord.NotFound:
                    self._forget(channel)
            reference = None
            if message.reply_to is not None:
                reference = discord.MessageReference(
                    message_id=message.reply_to,
                    channel_id=channel.id,
                    guild_id=channel.guild.id,
                    fail_if_not_exists=False,
                )
            sent = await channel.send(
                content=with_author_prefix(message.content, message.author_name),
                allowed_mentions=NO_PINGS,
                reference=reference,
            )
            return sent.id

    async def edit(self, channel_id: int, message_id: int, message: Outgoing) -> None:
        channel = await self._channel(channel_id)
        with _as_sink_error("edit", channel_id):
            hook = await self._webhook(channel)
            if hook is not None:
                try:
                    await hook.edit_message(
                        message_id,
                        content=self._webhook_content(channel, message),
                        allowed_mentions=NO_PINGS,
                        **self._thread(channel),
                    )
                    return
                except discord.NotFound:
                    pass  # deleted, or a plain message posted while webhooks were not allowed
            try:
                await channel.get_partial_message(message_id).edit(
                    content=with_author_prefix(message.content, message.author_name), allowed_mentions=NO_PINGS
                )
            except discord.NotFound:
                log.info("message %s in %s is gone; nothing to edit", message_id, channel_id)

    async def delete(self, channel_id: int, message_id: int) -> None:
        channel = await self._channel(channel_id)
        with _as_sink_error("delete", channel_id):
            hook = await self._webhook(channel)
            if hook is not None:
                try:
                    await hook.delete_message(message_id, **self._thread(channel))
                    return
                except discord.NotFound:
                    pass
            try:
                await channel.get_partial_message(message_id).delete()
            except discord.NotFound:
                pass  # already gone

    # helpers

    def _webhook_content(self, channel: Any, message: Outgoing) -> str:
        if message.reply_to is None:
            return message.content
        return with_reply_line(message.content, message_link(channel.guild.id, channel.id, message.reply_to))

    @staticmethod
    def _thread(channel: Any) -> dict[str, Any]:
        return {"thread": channel} if isinstance(channel, discord.Thread) else {}

    @staticmethod
    def _host(channel: Any) -> Any:
        """Webhooks live on the parent of a thread."""
        return channel.parent if isinstance(channel, discord.Thread) else channel

    async def _channel(self, channel_id: int) -> Any:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            with _as_sink_error("find channel", channel_id):
                try:
                    channel = await self.bot.fetch_channel(channel_id)
                except discord.NotFound as exc:
                    raise SinkError(f"channel {channel_id} no longer exists", retryable=False) from exc
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            raise SinkError(f"channel {channel_id} cannot hold relayed messages", retryable=False)
        return channel

    def _forget(self, channel: Any) -> None:
        hook = self._webhooks.pop(self._host(channel).id, None)
        if hook is not None:
            self.webhook_ids.discard(hook.id)

    async def _webhook(self, channel: Any) -> discord.Webhook | None:
        """Our webhook for the channel: cached, else an existing "Concord" one of ours, else a new one.

        None when the bot lacks Manage Webhooks there (asked again after WEBHOOK_RECHECK seconds).
        """
        host = self._host(channel)
        if (hook := self._webhooks.get(host.id)) is not None:
            return hook
        if self._denied.get(host.id, 0.0) > time.monotonic():
            return None
        async with self._locks.setdefault(host.id, asyncio.Lock()):
            if (hook := self._webhooks.get(host.id)) is not None:
                return hook
            me = self.bot.user.id if self.bot.user else None
            try:
                hooks = await host.webhooks()
                hook = next(
                    (h for h in hooks if h.name == WEBHOOK_NAME and h.token and h.user and h.user.id == me),
                    None,
                )
                if hook is None:
                    hook = await host.create_webhook(name=WEBHOOK_NAME, reason="Concord relays translated messages")
            except discord.Forbidden:
                log.warning("no Manage Webhooks in #%s (%s): posting plain messages", host, host.id)
                self._denied[host.id] = time.monotonic() + WEBHOOK_RECHECK
                return None
            self._denied.pop(host.id, None)
            self._webhooks[host.id] = hook
            self.webhook_ids.add(hook.id)
            return hook


# --- slash command errors ------------------------------------------------------------------------


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


# --- the bot -------------------------------------------------------------------------------------


# Concord never joins voice: without this, every start warns that voice libraries are missing.
discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


class ConcordBot(commands.Bot):
    engine: RelayEngine
    sink: DiscordSink

    def __init__(
        self,
        settings: Settings,
        store: Store,
        translator: TranslationService,
        *,
        glossary: Glossary | None = None,
        sync_commands: bool = False,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = True  # privileged: enable it in the Developer Portal
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_PINGS,
            tree_cls=ConcordTree,
            help_command=None,
            **options,
        )
        self.settings = settings
        self.store = store
        self.translator = translator
        self._glossary = glossary or translator.glossary  # the one the translator enforces: edits apply at once
        self.sync_commands = sync_commands
        self.volunteers = RoleBook.of(settings, "volunteer_role")
        self.facilitators = RoleBook.of(settings, "facilitator_role")

    @property
    def glossary(self) -> Glossary:
        if self._glossary is None:
            raise RuntimeError("the bot was built without a glossary")
        return self._glossary

    async def setup_hook(self) -> None:
        self.sink = DiscordSink(self)
        self.engine = RelayEngine(
            self.store,
            self.translator,
            self.sink,
            retry_every=self.settings.retry_untranslated_every,
            keep_days=self.settings.keep_days,
        )
        await self.engine.start()
        if self.translator.glossary is not None:  # build term indexes now, not at a meeting's first message
            self._warm = asyncio.create_task(self.translator.glossary.warm(), name="glossary-warm")
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.publish_commands()

    async def publish_commands(self) -> None:
        """Sync slash commands to CONCORD_TEST_GUILD_ID (instant) or, with `run --sync`, globally.

        A refusal is one log line with the fix; relaying does not need the commands, so the bot carries on.
        """
        guild_id = self.settings.test_guild_id
        if not guild_id and not self.sync_commands:
            return
        try:
            if guild_id:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            else:
                await self.tree.sync()
        except discord.HTTPException as exc:
            log.error("slash commands not published: %s; relaying goes on without them", await self._sync_fix(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.error("slash commands not published: Discord could not be reached (%r); restart to try again", exc)

    async def _sync_fix(self, exc: discord.HTTPException) -> str:
        invite = invite_url(self.application_id or 0)
        guild_id = self.settings.test_guild_id
        if guild_id:
            try:
                guilds = [guild async for guild in self.fetch_guilds(limit=200)]
            except discord.HTTPException:
                guilds = None
            if guilds is not None and all(guild.id != guild_id for guild in guilds):
                names = ", ".join(f"{g.name} ({g.id})" for g in guilds[:5]) or "none yet"
                return (
                    f"{env_name('test_guild_id')}={guild_id} is not a server this bot is in (it is in: {names}); "
                    f"fix the ID, or invite the bot there: {invite}"
                )
        if exc.status == 403:
            return (
                f"Discord refused ({exc.status} {exc.text}): invite the bot again with the applications.commands "
                f"scope: {invite}"
            )
        return f"Discord answered {exc.status} {exc.text}"

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Resolve the role settings as the server becomes available: names pin to an ID, problems are logged."""
        for book in (self.volunteers, self.facilitators):
            role_lookup(book, guild)

    async def close(self) -> None:
        warm = getattr(self, "_warm", None)
        if warm is not None:
            warm.cancel()
        engine = getattr(self, "engine", None)
        if engine is not None:
            try:
                await asyncio.wait_for(engine.drain(), CLOSE_GRACE)
            except TimeoutError:
                log.warning("closing with deliveries still queued; they stay in the outbox for next start")
            await engine.close()
        await super().close()


async def run(settings: Settings, *, sync: bool = False) -> None:
    """Run the bot until it is stopped. The caller checks that a token is configured."""
    if settings.discord_token is None:
        raise RuntimeError("no Discord token configured (DISCORD_TOKEN)")
    async with await Store.open(settings.database) as store:
        glossary = Glossary.configured(store, settings)
        translator = build_translator(settings, store, glossary)
        try:
            async with ConcordBot(settings, store, translator, glossary=glossary, sync_commands=sync) as bot:
                await bot.start(settings.discord_token.get_secret_value())
        finally:
            translator.close()


# --- `python -m bot check`: the Discord part -------------------------------------------------------

MESSAGE_CONTENT_FLAGS = (
    discord.ApplicationFlags.gateway_message_content.flag
    | discord.ApplicationFlags.gateway_message_content_limited.flag
)
NEEDED = {
    "View Channels": discord.Permissions(view_channel=True),
    "Send Messages": discord.Permissions(send_messages=True),
    "Embed Links": discord.Permissions(embed_links=True),
    "Read Message History": discord.Permissions(read_message_history=True),
    "Manage Webhooks": discord.Permissions(manage_webhooks=True),
}
PROBE_TIMEOUT = 15.0  # seconds for each Discord request
PROBE_GUILDS = 25  # servers looked at in detail


async def probe_discord(settings: Settings) -> list[Finding]:
    """Log in over REST only (no gateway session) and check what `run` needs: the token, the Message Content
    intent, and in each server the applications.commands scope, the permissions and the role settings."""
    assert settings.discord_token is not None
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
    missing = [name for name, perm in NEEDED.items() if not granted.administrator and not perm.is_subset(granted)]
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
