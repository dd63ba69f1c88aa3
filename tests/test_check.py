"""`python -m bot check`: what a deployer runs to learn whether the install is ready, and what to fix.

Backends are probed through the real deep-translator classes against the fake LibreTranslate; the Discord
part logs in with the real discord.py HTTP client against the loopback Discord (`Route.BASE` patched, as in
the adapter tests). Nothing may be created or changed by a check.
"""

from __future__ import annotations

import json

import discord
import pytest
from pydantic import SecretStr
from test_cli import cli
from test_config import snapshot

from bot import check
from bot.discord.probe import probe_discord
from bot.store import Store
from bot.testing.discord_server import FakeDiscord

TOKEN = "loopback.bot.token"


@pytest.fixture
async def server(monkeypatch):
    fake = await FakeDiscord().start()
    fake.token = TOKEN
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
    yield fake
    await fake.close()


@pytest.fixture
def ready(settings):
    """A complete configuration: the fake LibreTranslate, a token, the volunteer role by name (the default)."""
    return settings.model_copy(update={"discord_token": SecretStr(TOKEN)})


def statuses(findings: list[check.Finding]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f.status, []).append(f"{f.subject}: {f.detail}" + (f" -> {f.fix}" if f.fix else ""))
    return out


# --- the whole report --------------------------------------------------------------------------------


async def test_a_ready_install_passes_every_check_and_hides_the_token(ready, server, tmp_path):
    await server.add_role("Volunteer")
    before = snapshot(tmp_path)

    report = await check.run(ready, [])

    assert report.ok, report.render()
    text = report.render()
    for subject in ("database", "seed glossaries", "translator libre", "Discord login", "Message Content"):
        assert any(f.subject == subject and f.status == "ok" for f in report.findings), subject
    assert f"server {server.guild_name}" in text and "slash commands allowed (applications.commands)" in text
    assert "CONCORD_VOLUNTEER_ROLE: role Volunteer" in text and "by name" in text
    assert "en→es in" in text and "[es] Good evening, families." in text
    assert ("DISCORD_TOKEN", "set (hidden)", False) in report.settings and TOKEN not in text
    assert text.endswith("All well.")
    assert snapshot(tmp_path) == before  # the database is not created by a check


async def test_every_problem_comes_with_what_to_fix_and_fails_the_check(settings, server, libre, tmp_path):
    libre.fake.down = True
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "concepts.csv").write_text("id,term\nx,\n", encoding="utf-8")
    broken = settings.model_copy(
        update={"glossary_dir": tmp_path / "seed", "fallbacks": ["deepl"], "database": tmp_path}
    )

    report = await check.run(broken, [], discord=False)

    assert not report.ok
    failed = statuses(report.findings)["fail"]
    assert any(line.startswith(f"database: {tmp_path}: is a folder") for line in failed), failed
    assert any(line.startswith("seed glossaries: ") for line in failed), failed
    assert any(line.startswith("translator libre: test call failed") for line in failed), failed
    assert (
        "translator deepl: CONCORD_DEEPL_API_KEY is not set -> set CONCORD_DEEPL_API_KEY, or remove deepl from "
        "CONCORD_FALLBACKS" in failed
    )
    text = report.render()
    assert "What to fix\n  1. database:" in text and text.endswith("4 problem(s) to fix before `python -m bot run`.")


async def test_a_backend_that_never_answers_is_reported_within_the_timeout(settings, libre):
    libre.fake.fail_next("hang", times=1)
    finding = await check.check_backend(settings.model_copy(update={"translate_timeout": 0.3}), "libre")
    assert finding.status == "fail" and finding.detail == "no answer within 0.3 s"


async def test_a_backend_that_echoes_the_text_is_not_a_translation(settings, libre):
    libre.fake.tag = False  # the engine answers the English text unchanged
    finding = await check.check_backend(settings, "libre")
    assert finding.status == "fail" and "not a translation" in finding.detail


async def test_an_existing_database_readable_by_others_is_a_warning_with_the_fix(settings):
    async with await Store.open(settings.database) as store:
        await store.create_meeting(1, "ELAC")
    settings.database.chmod(0o644)

    found = check.check_database(settings)

    assert [f.status for f in found] == ["ok", "warn"]
    assert "schema" in found[0].detail and "1 meeting(s)" in found[0].detail
    assert "other users can read parents' messages: concord.db (-rw-r--r--)" in found[1].detail
    assert found[1].fix.startswith("chmod 600 ")
    assert settings.database.stat().st_mode & 0o777 == 0o644  # a check changes nothing


# --- Discord ---------------------------------------------------------------------------------------------


async def test_a_rejected_token_says_to_copy_a_fresh_one(ready, server):
    server.token = "another.token"
    (login,) = await probe_discord(ready)
    assert login.status == "fail" and login.detail == "Discord rejected the token"
    assert "Reset Token" in login.fix and TOKEN not in login.fix


async def test_message_content_intent_off_is_a_failure_naming_the_switch(ready, server):
    server.app_flags = 0
    found = statuses(await probe_discord(ready))
    assert (
        "Message Content: the intent is off: Concord cannot read the messages it translates -> Developer "
        "Portal -> Bot -> Privileged Gateway Intents -> enable Message Content Intent" in found["fail"]
    )


async def test_an_invite_without_applications_commands_gets_the_invite_link(ready, server):
    server.deny_commands = True
    found = statuses(await probe_discord(ready))
    (line,) = [f for f in found["fail"] if f.startswith(f"server {server.guild_name}")]
    assert "Discord refuses slash commands here (403 Missing Access)" in line
    assert f"client_id={server.application_id}&scope=bot+applications.commands&permissions=2252109856754768" in line


async def test_a_test_guild_the_bot_is_not_in_is_named(ready, server):
    found = statuses(await probe_discord(ready.model_copy(update={"test_guild_id": 4242})))
    (line,) = [f for f in found["fail"] if f.startswith("CONCORD_TEST_GUILD_ID")]
    assert "4242 is not a server this bot is in" in line and str(server.guild_id) in line


async def test_two_roles_with_the_volunteer_name_are_a_warning_naming_both(ready, server):
    first, second = await server.add_role("Volunteer"), await server.add_role("Volunteer")
    found = statuses(await probe_discord(ready))
    (line,) = [f for f in found["warn"] if "roles are named Volunteer" in f]
    assert f"(IDs {min(first, second)}, {max(first, second)})" in line and "set CONCORD_VOLUNTEER_ROLE" in line


async def test_missing_bot_permissions_are_a_warning(ready, server):
    server.everyone_permissions = (1 << 10) | (1 << 11)  # View Channels and Send Messages only
    found = statuses(await probe_discord(ready))
    assert any("the bot's roles lack Embed Links, Read Message History, Manage Webhooks" in f for f in found["warn"])


async def test_discord_out_of_reach_is_one_failure(ready, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")
    (login,) = await probe_discord(ready)
    assert login.status == "fail" and login.detail.startswith("cannot reach Discord")


async def test_a_role_configured_by_id_is_reported_without_the_by_name_hint(ready, server):
    role = await server.add_role("Facilitators")
    found = statuses(await probe_discord(ready.model_copy(update={"facilitator_role": str(role)})))
    assert f"server {server.guild_name}: CONCORD_FACILITATOR_ROLE: role Facilitators ({role})" in found["ok"]


# --- the command -----------------------------------------------------------------------------------------


def test_check_command_exit_code_and_json_say_whether_all_is_well(libre, tmp_path):
    env = {"CONCORD_TRANSLATOR": "libre", "CONCORD_LIBRE_URL": libre.url, "CONCORD_FALLBACKS": ""}
    good = cli("check", "--no-discord", "--json", cwd=tmp_path, env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads(good.stdout.splitlines()[-1])
    assert report["ok"] is True and report["fix"] == []
    assert report["settings"]["CONCORD_LIBRE_URL"] == {"value": libre.url, "default": False}
    assert report["settings"]["CONCORD_KEEP_DAYS"] == {"value": "30", "default": True}
    assert {c["subject"] for c in report["checks"]} == {"database", "seed glossaries", "translator libre"}
    assert list(tmp_path.iterdir()) == []

    bad = cli("check", "--no-discord", cwd=tmp_path, env={**env, "CONCORD_FALLBACKS": "microsoft"})
    assert bad.returncode == 1
    assert "What to fix\n  1. translator microsoft: set CONCORD_MICROSOFT_API_KEY" in bad.stdout


def test_check_without_a_token_says_where_to_put_it(libre, tmp_path):
    env = {"CONCORD_TRANSLATOR": "libre", "CONCORD_LIBRE_URL": libre.url, "CONCORD_FALLBACKS": ""}
    result = cli("check", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "FAIL  Discord" in result.stdout and "DISCORD_TOKEN is not set, so `run` cannot start" in result.stdout


async def test_a_backend_out_of_reach_is_named_in_a_few_words(settings):
    finding = await check.check_backend(settings.model_copy(update={"libre_url": "http://127.0.0.1:9/"}), "libre")
    assert finding.status == "fail"
    assert finding.detail == "test call failed: connection (cannot connect to 127.0.0.1:9: Connection refused)"
