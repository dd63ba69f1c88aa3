"""The Discord adapter and cogs, end to end: the real discord.py client against the loopback Discord in
`bot/testing/discord_server.py`, the real RelayEngine, a real SQLite store and the fake LibreTranslate server.

The fake translator tags each text with its target code ("[es] ..."), so a test sees what was translated.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import pytest

from bot.discord.bot import ConcordBot
from bot.discord.helpers import webhook_username
from bot.sinks import Outgoing, SinkError
from bot.store import Channel, Source
from bot.testing.discord_server import EPHEMERAL, FakeDiscord
from tests.conftest import running_bot


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
    async with running_bot(server, bot_settings, store, translator, monkeypatch) as concord:
        yield concord


async def settle(bot: ConcordBot) -> None:
    """Let gateway echoes reach the bot and every delivery they could cause finish."""
    for _ in range(3):
        await asyncio.sleep(0.05)
        await bot.engine.drain()


NOTICE = re.compile(r"^(\*\*Concord:\*\* )?(⚠️|ℹ️) ")


def relayed(server: FakeDiscord, channel_id: int) -> list:
    """Relayed copies in a channel (Concord's notices about problems left out)."""
    return [m for m in server.by_bot(channel_id) if not NOTICE.match(m.content)]


def notices(server: FakeDiscord, channel_id: int) -> list[str]:
    """Concord's notices in a channel (a missing permission, a deleted channel...)."""
    return [m.content for m in server.by_bot(channel_id) if NOTICE.match(m.content)]


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
    # The facilitator learns once per channel why copies look plain, and which permission fixes it.
    (about_es, about_vi) = sorted(notices(server, meeting.main), key=lambda n: f"<#{meeting.es}>" not in n)
    assert f"<#{meeting.es}>" in about_es and f"<#{meeting.vi}>" in about_vi
    assert "**Manage Webhooks**" in about_es


async def test_without_manage_webhooks_edits_and_deletes_still_follow(bot, server, meeting):
    server.deny_webhooks = True
    original = await server.post(meeting.main, "Room 12", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    await server.edit(original, "Room 14")
    await server.wait_until(lambda: relayed(server, meeting.es)[0].content == "**Carmen:** [es] Room 14")
    await server.delete(original)
    await server.wait_until(lambda: relayed(server, meeting.es) == [])


async def test_a_429_burst_is_waited_out_and_the_post_arrives_once(bot, server, meeting):
    server.fail(429, "post", times=3, retry_after=0.05)  # with Via and X-RateLimit-* headers, as Discord sends
    posted = await bot.sink.post(meeting.es, Outgoing(content="hola", author_name="Carmen"))
    assert server.rate_limited == 3
    assert [m.id for m in server.by_bot(meeting.es)] == [posted]


async def test_sink_errors_say_whether_trying_again_can_help(bot, server, meeting):
    message = Outgoing(content="hola", author_name="Carmen")
    server.fail(400, "post")
    with pytest.raises(SinkError) as refused:
        await bot.sink.post(meeting.es, message)
    assert not refused.value.retryable and refused.value.permission is None
    server.deny_webhooks = True  # plain messages: posting them needs Send Messages
    server.fail(403, "post")
    with pytest.raises(SinkError) as forbidden:
        await bot.sink.post(meeting.vi, message)
    assert forbidden.value.permission == "Send Messages" and not forbidden.value.retryable
    server.deny_webhooks = False
    server.fail(503, "post", times=None)
    bot.sink.timeout = 0.5  # discord.py retries 5xx for ~25 s on its own; the sink stops waiting sooner
    with pytest.raises(SinkError) as unavailable:
        await bot.sink.post(meeting.es, message)
    assert unavailable.value.retryable
    server.clear_faults()
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

COMMANDS = [  # what the bot registers
    "concord", "meeting", "glossary", "translate", "Show original", "Correct translation",
    "Count reactions across languages", "Translate to my language",
]  # fmt: skip


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


# --- nothing missed while down, every failure visible ---------------------------------------------


def texts(server: FakeDiscord, channel_id: int) -> list[str]:
    return [m.content for m in relayed(server, channel_id)]


async def test_a_new_gateway_session_catches_up_posts_edits_and_deletes_made_in_the_gap(bot, server, meeting):
    carmen = server.user("Carmen")
    await server.post(meeting.main, "Before the drop", author=carmen)
    room = await server.post(meeting.main, "Room 12", author=carmen)
    wrong = await server.post(meeting.main, "Wrong room", author=carmen)
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 3)
    await bot.engine.drain()

    server.gateway_open.clear()  # the bot stays offline until we let it back
    await server.disconnect()  # and its RESUME will be refused: a new session, nothing replayed
    for n in range(3):
        await server.post(meeting.main, f"During the gap {n}", author=carmen)
    await server.edit(room, "Room 14")
    await server.delete(wrong)
    server.gateway_open.set()
    await server.post(meeting.main, "After the gap", author=carmen)

    want = ["Before the drop", "Room 14", "During the gap 0", "During the gap 1", "During the gap 2", "After the gap"]
    await server.wait_until(
        lambda: (
            texts(server, meeting.es) == [f"[es] {t}" for t in want]
            and texts(server, meeting.vi) == [f"[vi] {t}" for t in want]
        ),
        seconds=15,
    )
    assert (server.sessions, server.resumes) == (2, 0)
    await settle(bot)
    assert texts(server, meeting.es) == [f"[es] {t}" for t in want]  # and nothing came twice


async def test_a_resumed_session_relays_replayed_events_without_a_catch_up(bot, server, meeting):
    await server.disconnect(resume=True)
    await server.post(meeting.main, "Hello again", author=server.user("Carmen"))
    await server.wait_until(lambda: texts(server, meeting.es) == ["[es] Hello again"], seconds=10)
    assert (server.sessions, server.resumes) == (1, 1)


async def test_a_webhook_deleted_by_an_admin_is_recreated_and_the_message_arrives_once(bot, server, meeting):
    await server.post(meeting.main, "One", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1)
    (first,) = relayed(server, meeting.es)
    server.delete_webhook(first.webhook_id)
    await server.post(meeting.main, "Two", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 2)
    await settle(bot)
    assert texts(server, meeting.es) == ["[es] One", "[es] Two"]
    second = relayed(server, meeting.es)[1]
    assert second.by_webhook and second.webhook_id != first.webhook_id
    assert [int(h["channel_id"]) for h in server.webhooks.values()].count(meeting.es) == 1


async def test_a_deleted_language_channel_is_unlinked_with_one_notice(bot, server, meeting, store):
    await server.delete_channel(meeting.vi)
    await server.post(meeting.main, "Still here?", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 1 and notices(server, meeting.main))
    await settle(bot)
    assert await store.channel(meeting.vi) is None
    (notice,) = notices(server, meeting.main)
    assert f"<#{meeting.vi}>" in notice and "Vietnamese" in notice and "/concord link" in notice


async def test_missing_send_messages_fails_that_channel_with_one_notice_naming_the_permission(
    bot, server, meeting, store
):
    server.deny_webhooks = True  # plain messages, and in #tiếng-việt the bot may not post at all
    server.fail(403, "post", channel_id=meeting.vi, times=None)
    for n in range(3):
        await server.post(meeting.main, f"Point {n}", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 3, seconds=5)
    await settle(bot)
    send_notices = [n for n in notices(server, meeting.main) if "**Send Messages**" in n]
    assert len(send_notices) == 1 and f"<#{meeting.vi}>" in send_notices[0]
    assert len(await store.outbox_in_state("failed")) == 3
    assert relayed(server, meeting.vi) == []


async def test_a_persistent_500_stalls_only_that_channel_with_one_log_line_and_keeps_order(
    bot, server, meeting, caplog
):
    caplog.set_level(logging.INFO, logger="bot.relay")
    bot.sink.timeout = 1.0  # discord.py would retry a 5xx for ~25 s; the sink stops waiting sooner
    fault = server.fail(500, "post", channel_id=meeting.es, times=None)
    for n in range(3):
        await server.post(meeting.main, f"Item {n}", author=server.user("Carmen"))
    await server.wait_until(lambda: len(relayed(server, meeting.vi)) == 3, seconds=5)  # not held up by #español
    await server.wait_until(lambda: fault.hits >= 3, seconds=10)
    server.clear_faults()
    await server.wait_until(lambda: len(relayed(server, meeting.es)) == 3, seconds=15)
    assert texts(server, meeting.es) == [f"[es] Item {n}" for n in range(3)]
    stalls = [r for r in caplog.records if "stalled" in r.getMessage()]
    assert len(stalls) == 1 and str(meeting.es) in stalls[0].getMessage()
    assert any("recovered" in r.getMessage() for r in caplog.records)


async def test_under_discords_rate_limit_a_burst_is_combined_in_order_and_nothing_is_doubled(bot, server, meeting):
    server.webhook_rate_limit = (5, 2.0)
    carmen = server.user("Carmen")
    for n in range(16):
        await server.post(meeting.main, f"Line {n:02d}.", author=carmen)
    want = " ".join(f"[es] Line {n:02d}." for n in range(16))
    await server.wait_until(lambda: " ".join(" ".join(texts(server, meeting.es)).split("\n")) == want, seconds=20)
    posts = relayed(server, meeting.es)
    assert len(posts) < 16  # consecutive lines of one speaker were combined rather than waiting their turn
    assert all(len(p.content) <= 2000 and p.username == "Carmen" for p in posts)
