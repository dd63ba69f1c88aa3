"""Shared fixtures: a real SQLite store in tmp_path and a real LibreTranslate-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.glossary import Glossary
from bot.sinks import MemorySink
from bot.store import Store
from bot.testing.libre import FakeLibre, ServerThread
from bot.translation import build_translator


@pytest.fixture(autouse=True)
def _logging_restored():
    """Tests that run the CLI in-process configure the root logger (its level, its one handler): put it back,
    so a later test still sees the records it asserts on."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def libre():
    """The fake LibreTranslate server; configure it through `libre.fake` (latency, faults, dictionary)."""
    with ServerThread(FakeLibre()) as server:
        yield server


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(tmp_path / "concord.db")
    yield store
    await store.close()


@pytest.fixture
def settings(libre, tmp_path) -> Settings:
    """Settings that route every language to the fake server, with quick retries and a short deadline."""
    return Settings(
        _env_file=None,
        database=tmp_path / "concord.db",
        translator="libre",
        fallbacks=[],
        libre_url=libre.url,
        translate_timeout=2.0,
        translate_retries=1,
        breaker_failures=100,  # the breaker has its own tests; here it would open on the faults a test injects
    )


@pytest.fixture
def translator(settings, store):
    """The chain `run` builds, with its glossary (empty until a test imports terms): `translator.glossary`."""
    service = build_translator(settings, store, Glossary.configured(store, settings))
    yield service
    service.close()


@pytest.fixture
def translator_for(settings):
    """Build the translation chain for another store (e.g. a database opened by the test itself)."""
    made = []

    def make(store: Store):
        made.append(build_translator(settings, store))
        return made[-1]

    yield make
    for service in made:
        service.close()


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@contextlib.asynccontextmanager
async def running_bot(server, settings: Settings, store: Store, translator, monkeypatch) -> AsyncIterator:
    """The real ConcordBot logged in to the loopback Discord `server` (bot/testing/discord_server.py), until the
    block ends; fails the test if the bot called a route the server lacks."""
    import discord
    import yarl

    from bot.discord.bot import ConcordBot

    monkeypatch.setattr(discord.http.Route, "BASE", server.api_url)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    concord = ConcordBot(settings, store, translator, guild_ready_timeout=0.01)
    running = asyncio.create_task(concord.start("loopback-token"))
    ready = asyncio.create_task(concord.wait_until_ready())
    await asyncio.wait([running, ready], timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await concord.close()
        running.result()  # raises why the bot could not start
        raise AssertionError("the bot did not become ready")
    try:
        yield concord
    finally:
        await concord.close()
        await asyncio.wait_for(running, 5)
    assert not server.unhandled, f"the bot called routes the loopback server lacks: {server.unhandled}"
