"""The Discord adapter and cogs, end to end: the real discord.py client against the loopback Discord in
`bot/testing/discord_server.py`, the real RelayEngine, a real SQLite store and the fake LibreTranslate server.

The fake translator tags each text with its target code ("[es] ..."), so a test sees what was translated.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import discord
import pytest
import yarl

from bot.app import ConcordBot, webhook_username
from bot.sinks import Outgoing, SinkError
from bot.store import Channel, Source
from bot.testing.discord_server import EPHEMERAL, FakeDiscord


def pings_nobody(allowed_mentions: dict | None) -> bool:
    """The payload Discord needs to notify no one, whatever the text says."""
    return (
        allowed_mentions is not None
        and allowed_mentions.get("parse") == []
        and not allowed_mentions.get("users")
        and not allowed_mentions.get("roles")
        and not allowed_mentions.get("replied_user")
    )


@dataclass
class Meeting:
    main: int
    es: int
    vi: int
    spare: int  # in the guild, not linked


@pytest.fixture
async def server():
    fake = await FakeDiscord().start()
    yield fake
    await fake.close()


@pytest.fixture
async def meeting(server, store) -> Meeting:
    """#main (en), #español (es), #tiếng-việt (vi) linked to meeting ELAC; #spare unlinked."""
    rooms = Meeting(
        server.add_channel("main"),
        server.add_channel("español"),
        server.add_channel("tiếng-việt"),
        server.add_channel("spare"),
    )
    elac = await store.create_meeting(server.guild_id, "ELAC")
    for channel_id, language in ((rooms.main, "en"), (rooms.es, "es"), (rooms.vi, "vi")):
        await store.link_channel(channel_id, elac.id, language)
    return rooms


@pytest.fixture
def bot_settings(request, settings, server):
    """No periodic retries; `indirect` parametrize with "test guild" sets CONCORD_TEST_GUILD_ID."""
    update: dict = {"retry_untranslated_every": 0.0}
    if getattr(request, "param", None) == "test guild":
        update["test_guild_id"] = server.guild_id
    return settings.model_copy(update=update)


@pytest.fixture
async def left_pending(server, meeting, store) -> int:
    """A message a previous run accepted but had not delivered to #español when it stopped."""
    message_id = server.snowflake()
    elac = await store.channel(meeting.main)
    source = Source(message_id, elac.meeting_id, meeting.main, "en", "Carmen", None, "Before the restart", None)
    await store.add_source(source, [Channel(meeting.es, elac.meeting_id, "es")])
    return message_id


@pytest.fixture
async def bot(server, meeting, bot_settings, store, translator, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_url)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    concord = ConcordBot(bot_settings, store, translator, guild_ready_timeout=0.01)
    running = asyncio.create_task(concord.start("loopback-token"))
    ready = asyncio.create_task(concord.wait_until_ready())
    await asyncio.wait([running, ready], timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        await concord.close()
        running.result()  # raises why the bot could not start
        raise AssertionError("the bot did not become ready")
    yield concord
    await concord.close()
    await asyncio.wait_for(running, 5)
    assert not server.unhandled, f"the bot called routes the loopback server lacks: {server.unhandled}"


async def settle(bot: ConcordBot) -> None:
    """Let gateway echoes reach the bot and every delivery they could cause finish."""
    for _ in range(3):
        await asyncio.sleep(0.05)
        await bot.engine.drain()


def relayed(server: FakeDiscord, channel_id: int) -> list:
    return server.by_bot(channel_id)


# --- relaying ------------------------------------------------------------------------------------


async def test_facilitator_message_appears_translated_in_each_language_channel_via_webhook(bot, server, meeting):
    carmen = server.user("Carmen")
    await server.post(meeting.main, "The meeting starts now, <@123> and <@&456> @everyone", author=carmen)
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)

    for channel_id, code in ((meeting.es, "es"), (meeting.vi, "vi")):
        (copy,) = relayed(server, channel_id)
        assert copy.by_webhook
        assert copy.content == f"[{code}] The meeting starts now, <@123> and <@&456> @everyone"
        assert copy.username == "Carmen"
        assert copy.avatar_url and copy.avatar_url.startswith("https://cdn.discordapp.com/")
        assert pings_nobody(copy.allowed_mentions)
        assert copy.pings == set()
    assert relayed(server, meeting.main) == []
    assert relayed(server, meeting.spare) == []


async def test_own_webhook_echoes_are_not_relayed_again(bot, server, meeting, store):
    server.echo_lead = 0.05  # the echo is handled before the bot has recorded what it posted
    await server.post(meeting.main, "Welcome, families", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)
    await settle(bot)

    assert [len(relayed(server, c)) for c in (meeting.main, meeting.es, meeting.vi)] == [0, 1, 1]
    for copy in relayed(server, meeting.es) + relayed(server, meeting.vi):
        assert bot.sink.is_ours(copy.webhook_id)
        assert await store.source(copy.id) is None  # never became a source of its own


async def test_deliveries_left_pending_by_a_previous_run_are_made_on_start(left_pending, bot, server, meeting):
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    (copy,) = relayed(server, meeting.es)
    assert copy.content == "[es] Before the restart"
    assert copy.username == "Carmen"


async def test_plain_bot_messages_are_not_relayed(bot, server, meeting):
    await server.post(meeting.main, "I am another bot", author={**server.user("Helper"), "bot": True})
    await settle(bot)
    assert relayed(server, meeting.es) == []


async def test_parent_message_reaches_main_and_other_language_channels(bot, server, meeting):
    await server.post(meeting.es, "¿A qué hora termina?", author=server.user("Rosa"))
    await server.wait_until(lambda: len(relayed(server, meeting.main)) == 1 and len(relayed(server, meeting.vi)) == 1)
    (in_main,) = relayed(server, meeting.main)
    assert in_main.content == "[en] ¿A qué hora termina?"
    assert in_main.username == "Rosa · Español"
    assert relayed(server, meeting.es) == []


async def test_edit_in_main_channel_edits_every_relayed_copy(bot, server, meeting):
    original = await server.post(meeting.main, "Meeting at 6 pm", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)
    copies = {c: relayed(server, c)[0].id for c in (meeting.es, meeting.vi)}

    await server.edit(original, "Meeting at 7 pm")
    await server.wait_until(lambda: all(relayed(server, c)[0].content.endswith("7 pm") for c in copies))

    for channel_id, code in ((meeting.es, "es"), (meeting.vi, "vi")):
        (copy,) = relayed(server, channel_id)
        assert copy.id == copies[channel_id]  # edited in place, not reposted
        assert copy.content == f"[{code}] Meeting at 7 pm"
        assert pings_nobody(copy.allowed_mentions)


async def test_update_without_content_change_edits_nothing(bot, server, meeting):
    original = await server.post(meeting.main, "See https://example.org", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    await server.unfurl(original)
    await settle(bot)
    assert relayed(server, meeting.es)[0].edits == []


async def test_delete_in_main_channel_deletes_every_relayed_copy(bot, server, meeting):
    original = await server.post(meeting.main, "Oops, wrong room", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)

    await server.delete(original)
    await server.wait_until(lambda: relayed(server, meeting.es) == [] and relayed(server, meeting.vi) == [])
    assert len(server.channel_messages(meeting.es, include_deleted=True)) == 1


async def test_bulk_delete_deletes_every_relayed_copy(bot, server, meeting):
    carmen = server.user("Carmen")
    first = await server.post(meeting.main, "One", author=carmen)
    second = await server.post(meeting.main, "Two", author=carmen)
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 2 and len(relayed(server, meeting.vi)) == 2)

    await server.bulk_delete(meeting.main, [first, second])
    await server.wait_until(lambda: relayed(server, meeting.es) == [] and relayed(server, meeting.vi) == [])


async def test_reply_points_at_the_relayed_counterpart_in_each_channel(bot, server, meeting):
    question = await server.post(meeting.main, "Any questions?", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)
    question_in_es = relayed(server, meeting.es)[0].id
    question_in_vi = relayed(server, meeting.vi)[0].id
    await bot.engine.drain()

    await server.post(meeting.es, "Sí, una pregunta", author=server.user("Rosa"), reply_to=question_in_es)
    await server.wait_until(lambda: len(relayed(server, meeting.main)) == 1 and len(relayed(server, meeting.vi)) == 2)

    (answer_in_main,) = relayed(server, meeting.main)
    assert answer_in_main.content == f"> ↪ {server.link(meeting.main, question)}\n[en] Sí, una pregunta"
    answer_in_vi = relayed(server, meeting.vi)[1]
    assert answer_in_vi.content.startswith(f"> ↪ {server.link(meeting.vi, question_in_vi)}\n")


async def test_attachments_are_relayed_as_links(bot, server, meeting):
    await server.post(
        meeting.main,
        "Agenda attached",
        author=server.user("Carmen"),
        attachments=[("https://cdn.example.org/agenda.pdf", "agenda.pdf")],
    )
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    assert "https://cdn.example.org/agenda.pdf" in relayed(server, meeting.es)[0].content


async def test_webhook_username_never_contains_discord_or_clyde(bot, server, meeting):
    await server.post(meeting.main, "Hello", author=server.user("Discord Clyde Fan"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)  # the server rejects reserved names with 400
    (copy,) = relayed(server, meeting.es)
    assert not re.search("discord|clyde", copy.username, re.IGNORECASE)
    assert copy.username.replace("\u200b", "") == "Discord Clyde Fan"


def test_webhook_username_fits_discord_limits():
    assert webhook_username("   ") == "Participant"
    assert len(webhook_username("x" * 200)) == 80
    assert webhook_username("CLYDE") == "CL\u200bYDE"
    assert webhook_username("Ana  María\n") == "Ana María"


async def test_one_webhook_per_channel_is_created_and_reused(bot, server, meeting):
    carmen = server.user("Carmen")
    for text in ("One", "Two", "Three"):
        await server.post(meeting.main, text, author=carmen)
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 3 and len(relayed(server, meeting.vi)) == 3)
    hooks = list(server.webhooks.values())
    assert sorted(int(h["channel_id"]) for h in hooks) == sorted([meeting.es, meeting.vi])
    assert all(h["name"] == "Concord" for h in hooks)


async def test_existing_concord_webhook_of_the_bot_is_reused(server, meeting, bot):
    someone_elses = server.add_webhook(meeting.es, "Concord", owner=server.owner)
    ours = server.add_webhook(meeting.es, "Concord")
    await server.post(meeting.main, "Hello", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    assert relayed(server, meeting.es)[0].webhook_id == int(ours["id"])
    assert int(someone_elses["id"]) != int(ours["id"])
    assert len([h for h in server.webhooks.values() if int(h["channel_id"]) == meeting.es]) == 2


async def test_without_manage_webhooks_messages_arrive_as_plain_bot_messages(bot, server, meeting):
    server.deny_webhooks = True
    server.echo_lead = 0.05
    question = await server.post(meeting.main, "Any questions? @everyone", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and len(relayed(server, meeting.vi)) == 1)

    (copy,) = relayed(server, meeting.es)
    assert not copy.by_webhook
    assert copy.author["id"] == server.bot_user["id"]
    assert copy.content == "**Carmen:** [es] Any questions? @everyone"
    assert pings_nobody(copy.allowed_mentions)
    assert copy.pings == set()
    await bot.engine.drain()  # the copy is in the message map before someone replies to it

    await server.post(meeting.es, "Sí", author=server.user("Rosa"), reply_to=copy.id)
    await server.wait_until(lambda: len(relayed(server, meeting.main)) == 1)
    (answer,) = relayed(server, meeting.main)
    assert answer.content == "**Rosa · Español:** [en] Sí"
    assert answer.message_reference["message_id"] == str(question)  # a real reply
    await settle(bot)
    assert len(relayed(server, meeting.es)) == 1  # the bot's own plain messages were not relayed back


async def test_without_manage_webhooks_edits_and_deletes_still_follow(bot, server, meeting):
    server.deny_webhooks = True
    original = await server.post(meeting.main, "Room 12", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    await server.edit(original, "Room 14")
    await server.wait_until(lambda: relayed(server, meeting.es)[0].content == "**Carmen:** [es] Room 14")
    await server.delete(original)
    await server.wait_until(lambda: relayed(server, meeting.es) == [])


async def test_rate_limit_is_a_retryable_sink_error_and_bad_request_is_not(bot, server, meeting):
    message = Outgoing(content="hola", author_name="Carmen")
    server.fail_next_post(429)
    with pytest.raises(SinkError) as limited:
        await bot.sink.post(meeting.es, message)
    assert limited.value.retryable
    server.fail_next_post(400)
    with pytest.raises(SinkError) as refused:
        await bot.sink.post(meeting.es, message)
    assert not refused.value.retryable
    assert await bot.sink.post(meeting.es, message) > 0


async def test_editing_or_deleting_a_vanished_message_is_not_an_error(bot, server, meeting):
    message = Outgoing(content="hola", author_name="Carmen")
    posted = await bot.sink.post(meeting.es, message)
    await bot.sink.delete(meeting.es, posted)
    await bot.sink.delete(meeting.es, posted)
    await bot.sink.edit(meeting.es, posted, message)


async def test_reply_line_is_dropped_rather_than_exceeding_2000_characters(bot, server, meeting):
    target = await bot.sink.post(meeting.es, Outgoing(content="hola", author_name="Carmen"))
    posted = await bot.sink.post(meeting.es, Outgoing(content="x" * 1990, author_name="Rosa", reply_to=target))
    assert server.messages[posted].content == "x" * 1990


# --- /concord ------------------------------------------------------------------------------------

COMMANDS = ["concord", "glossary", "Correct translation"]  # what the bot registers


async def test_slash_commands_are_not_synced_on_start_by_default(bot, server):
    assert server.synced == []


async def test_owner_can_sync_slash_commands_to_this_server_by_mentioning_the_bot(bot, server, meeting):
    await server.post(meeting.spare, f"<@{server.bot_user['id']}> sync", author=server.owner)
    await server.wait_until(lambda: len(relayed(server, meeting.spare)) == 1)
    assert server.synced == [(server.guild_id, COMMANDS)]
    assert relayed(server, meeting.spare)[0].content == f"Synced {len(COMMANDS)} command(s) (here)."


async def test_only_the_owner_can_sync(bot, server, meeting):
    await server.post(meeting.spare, f"<@{server.bot_user['id']}> sync global", author=server.user("Rosa"))
    await settle(bot)
    assert server.synced == []


@pytest.mark.parametrize("bot_settings", ["test guild"], indirect=True)
async def test_slash_commands_sync_to_the_test_guild_only(bot, server):
    assert server.synced == [(server.guild_id, COMMANDS)]


async def test_concord_link_binds_the_channel(bot, server, meeting, store):
    call = await server.slash(meeting.spare, "concord", "link", meeting="ELAC", language="ko")
    reply = await call.reply()
    assert reply["type"] == 4
    assert reply["data"]["flags"] & EPHEMERAL
    assert "Korean" in reply["data"]["content"]
    linked = await store.channel(meeting.spare)
    elac = await store.meeting_by_name(server.guild_id, "ELAC")
    assert linked is not None and linked.language == "ko" and linked.meeting_id == elac.id

    await server.post(meeting.main, "Hello", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.spare)) == 1)
    assert relayed(server, meeting.spare)[0].content == "[한] Hello"


async def test_concord_link_with_unknown_language_gets_a_polite_ephemeral_error(bot, server, meeting, store):
    call = await server.slash(meeting.spare, "concord", "link", meeting="ELAC", language="klingon")
    reply = await call.reply()
    assert reply["data"]["flags"] & EPHEMERAL
    assert "klingon" in reply["data"]["content"]
    assert "`es`" in reply["data"]["content"]
    assert "Traceback" not in reply["data"]["content"]
    assert await store.channel(meeting.spare) is None


async def test_concord_link_needs_manage_server(bot, server, meeting, store):
    parent = server.user("Rosa")
    call = await server.slash(meeting.spare, "concord", "link", user=parent, permissions=0, meeting="X", language="es")
    reply = await call.reply()
    assert reply["data"]["flags"] & EPHEMERAL
    assert "Manage Server" in reply["data"]["content"]
    assert await store.channel(meeting.spare) is None


async def test_concord_status_lists_the_meeting_channels(bot, server, meeting):
    reply = await (await server.slash(meeting.es, "concord", "status")).reply()
    text = reply["data"]["content"]
    assert "ELAC" in text
    assert f"<#{meeting.main}> — English (main channel)" in text
    assert f"<#{meeting.es}> — Spanish · Español" in text
    assert f"<#{meeting.vi}>" in text


async def test_concord_unlink_stops_relaying_the_channel(bot, server, meeting, store):
    reply = await (await server.slash(meeting.vi, "concord", "unlink")).reply()
    assert reply["data"]["flags"] & EPHEMERAL
    assert await store.channel(meeting.vi) is None
    await server.post(meeting.main, "Hello", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    await settle(bot)
    assert relayed(server, meeting.vi) == []


async def test_language_autocomplete_suggests_matching_languages(bot, server, meeting):
    call = await server.autocomplete(meeting.spare, "concord", "link", "language", "span", meeting="ELAC")
    reply = await call.reply()
    assert reply["type"] == 8
    assert [c["value"] for c in reply["data"]["choices"]] == ["es"]
