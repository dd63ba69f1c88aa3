"""The `commands.Bot` subclass and `run()`.

`run()` takes the database's one-process lock, builds the long-lived things (store, translator) with
`async with` and hands them to the bot; `setup_hook` builds the sink and the relay engine and loads the cogs. A
new gateway session (`on_connect`, then `on_ready`) catches up every linked channel's history; SIGTERM and SIGINT
drain deliveries in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.config import Settings, env_name
from bot.discord.errors import ConcordTree, role_lookup
from bot.discord.helpers import NO_PINGS, invite_url
from bot.discord.sink import DiscordSink, to_incoming
from bot.glossary import Glossary, freeze_loaded
from bot.relay import HistoryPage, RelayEngine
from bot.roles import RoleBook
from bot.store import Store, exclusive
from bot.translation import TranslationService, build_translator

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.relay", "cogs.meetings", "cogs.glossary", "cogs.conversation", "cogs.translate")

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
        intents.guild_reactions = True  # reactions mirrored across languages (not privileged)
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
        """The glossary the translator enforces: edits through it take effect on the next message."""
        if self._glossary is None:
            raise RuntimeError("the bot was built without a glossary")
        return self._glossary

    async def setup_hook(self) -> None:
        self.sink = DiscordSink(self, timeout=self.settings.discord_timeout)
        self.engine = RelayEngine(
            self.store,
            self.translator,
            self.sink,
            retry_every=self.settings.retry_untranslated_every,
            keep_days=self.settings.keep_days,
            hold=self.settings.delivery_hold,
            history=self.channel_history,
            catchup_window=self.settings.catchup_hours * 3600,
            catchup_limit=self.settings.catchup_messages,
        )
        self.sink.on_notice = self.engine.notice
        await self.engine.start()
        if self.translator.glossary is not None:  # build term indexes now, not at a meeting's first message
            self._warm = asyncio.create_task(self._warm_glossary(self.translator.glossary), name="glossary-warm")
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.publish_commands()

    async def _warm_glossary(self, glossary: Glossary) -> None:
        await glossary.warm()
        freeze_loaded()  # the glossary lives as long as the process: full collections need not walk it

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

    async def on_connect(self) -> None:
        """A new gateway session (a RESUME is not one): Discord replays nothing that happened before it, so
        each linked channel's events wait for its catch-up. Runs before any event of the session."""
        self.engine.session_started()

    async def on_ready(self) -> None:
        """Every guild is known: catch up each linked channel's history (in the background)."""
        log.info("connected as %s; catching up linked channels", self.user)
        self._catchup = asyncio.create_task(self.engine.catch_up(), name="catch-up")

    async def channel_history(self, channel_id: int, after: int, limit: int) -> HistoryPage | None:
        """The newest `limit` messages of a channel after message id `after`, oldest first (see relay.History)."""
        try:
            channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
            found = [m async for m in channel.history(limit=limit, after=discord.Object(after), oldest_first=False)]
        except discord.NotFound:
            await self.engine.channel_gone(channel_id)
            return None
        except discord.Forbidden:
            await self.engine.notice(
                channel_id,
                ("permission", "Read Message History"),
                "⚠️ Concord lacks the **Read Message History** permission in <#{channel}> ({language}), so "
                "messages posted there while Concord was offline cannot be relayed.",
            )
            return None
        found.reverse()
        messages = [m for m in (to_incoming(msg, self.sink) for msg in found) if m is not None]
        return HistoryPage(messages, complete=len(found) < limit)

    async def close(self) -> None:
        """Stop taking events, give deliveries in flight `shutdown_grace` seconds, keep the rest in the outbox
        for the next start, then disconnect. Safe to call twice (a signal, then `async with`)."""
        if getattr(self, "_shutdown", None) is None:
            self._shutdown = asyncio.ensure_future(self._shut_down())
        await asyncio.shield(self._shutdown)

    async def _shut_down(self) -> None:
        for task in (getattr(self, "_warm", None), getattr(self, "_catchup", None)):
            if task is not None:
                task.cancel()
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.stop_intake()
            try:
                await asyncio.wait_for(engine.drain(), self.settings.shutdown_grace)
            except TimeoutError:
                log.warning("stopping with deliveries still owed; they stay in the outbox for the next start")
            await engine.close()
        await super().close()


async def use_api_base(api_base: str) -> None:
    """TESTING ONLY (CONCORD_DISCORD_API_BASE): talk to a Discord-compatible server such as the loopback one in
    bot/testing/discord_server.py instead of discord.com. discord.py has no setting for this, so its REST base
    is patched and the gateway URL is asked of that server (`GET /gateway`)."""
    base = api_base.rstrip("/")
    log.warning("CONCORD_DISCORD_API_BASE is set: talking to %s instead of Discord (for tests only)", base)
    async with aiohttp.ClientSession() as session, session.get(f"{base}/gateway") as response:
        gateway = (await response.json(content_type=None))["url"]
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


def stop_on_signals(bot: ConcordBot) -> None:
    """SIGTERM (`docker stop`) and SIGINT (Ctrl-C) close the bot gently: deliveries in flight drain first."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task] = []

    def stop(name: str) -> None:
        log.info("%s: finishing deliveries in flight, then stopping", name)
        stopping.append(asyncio.ensure_future(bot.close()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows, nor off the main thread
            loop.add_signal_handler(sig, stop, sig.name)


async def run(settings: Settings, *, sync: bool = False) -> None:
    """Run the bot until it is stopped. The caller checks that a token is configured.

    Raises store.DatabaseLocked when another Concord process runs on the same database."""
    if settings.discord_token is None:
        raise RuntimeError("no Discord token configured (DISCORD_TOKEN)")
    with exclusive(settings.database):
        if settings.discord_api_base:
            await use_api_base(settings.discord_api_base)
        async with await Store.open(settings.database) as store:
            glossary = Glossary.configured(store, settings)
            translator = build_translator(settings, store, glossary)
            try:
                async with ConcordBot(settings, store, translator, glossary=glossary, sync_commands=sync) as bot:
                    stop_on_signals(bot)
                    await bot.start(settings.discord_token.get_secret_value())
            finally:
                translator.close()
