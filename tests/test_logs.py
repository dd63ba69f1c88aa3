"""Logs never show keys, webhook tokens or meeting text, at any level: a whole DEBUG run of the real bot
(discord.py against the loopback Discord, deep-translator against loopback DeepL and Google) is grepped."""

from __future__ import annotations

import io
import logging

import pytest

from bot.config import Settings
from bot.logs import redact, setup_logging
from bot.testing.backends import FakeDeepL, FakeGoogle
from bot.testing.libre import ServerThread
from tests import test_discord_adapter as adapter

# The real bot against the loopback Discord, as the adapter's tests run it (their fixtures, reused).
bot, bot_settings, meeting, server, relayed = (
    adapter.bot,
    adapter.bot_settings,
    adapter.meeting,
    adapter.server,
    adapter.relayed,
)

DEEPL_KEY = "dk-93c1e7aa-0b5d-4c1e-secret:fx"
TEXT = "Confidential: Maria Lopez asked about her son's IEP review"


@pytest.fixture
def services():
    deepl = ServerThread(FakeDeepL(key="the-key-deepl-expects")).start()  # ours is wrong: 403, key echoed
    google = ServerThread(FakeGoogle()).start()
    yield deepl, google
    deepl.stop()
    google.stop()


@pytest.fixture
def settings(services, tmp_path) -> Settings:  # overrides conftest's: DeepL first (bad key), Google next
    deepl, google = services
    return Settings(
        _env_file=None,
        database=tmp_path / "concord.db",
        translator="deepl",
        fallbacks=["google"],
        deepl_api_key=DEEPL_KEY,
        deepl_url=deepl.url.rstrip("/"),
        google_url=google.url.rstrip("/"),
        translate_timeout=2.0,
        translate_retries=1,
        rate_limits={},
    )


@pytest.fixture(autouse=True)
def debug_log(settings):
    """Everything at DEBUG, through Concord's logging setup, into a buffer (set up before the bot starts)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    setup_logging("DEBUG", settings, stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


async def test_a_debug_run_logs_no_key_no_webhook_token_no_meeting_text(bot, server, meeting, services, debug_log):
    deepl, google = services
    await server.post(meeting.main, TEXT, author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)
    assert relayed(server, meeting.es)[0].content == f"[es] {TEXT}"  # via Google, after DeepL refused the key
    assert deepl.fake.calls and google.fake.calls
    tokens = [w["token"] for w in server.webhooks.values()]
    assert tokens

    log = debug_log.getvalue()
    # The run really was logged at DEBUG, by every library that could leak.
    for name in ("urllib3.connectionpool:", "discord.gateway:", "discord.webhook", "bot.translation:"):
        assert f" {name}" in log, name
    assert DEEPL_KEY not in log
    assert not any(token in log for token in tokens)
    for fragment in ("Confidential", "Maria", "Lopez", "IEP review", "Maria+Lopez", "Maria%20Lopez"):
        assert fragment not in log, fragment


def test_redact_covers_the_shapes_secrets_take():
    samples = {
        "https://discord.com/api/v10/webhooks/1234567890/AbC-dEf_123.xyz?wait=1": "AbC-dEf_123",
        '"GET /m?tl=es&sl=en&q=Maria+needs+help HTTP/1.1" 200 None': "Maria",
        "Unauthorized access with the api key sk-live-abcdef": "sk-live-abcdef",
        "{'Ocp-Apim-Subscription-Key': 'abc123def456'}": "abc123def456",
        "Authorization: DeepL-Auth-Key 1234abcd-5678:fx": "1234abcd",
        "token MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz12345": "GhIjKl",
    }
    for text, secret in samples.items():
        assert secret not in redact(text), text
    assert redact("Any questions? The vote is at 6 pm.") == "Any questions? The vote is at 6 pm."
