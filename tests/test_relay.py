"""The relay engine end to end: real store, real deep-translator against the fake LibreTranslate, memory sink."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.relay import Attachment, Incoming, RelayEngine
from bot.sinks import MemorySink, SinkError
from bot.store import Store

MAIN, ES, VI, ZH = 100, 101, 102, 103
ids = itertools.count(1)


@pytest.fixture
async def meeting(store: Store):
    meeting = await store.create_meeting(guild_id=1, name="ELAC")
    for channel, language in ((MAIN, "en"), (ES, "es"), (VI, "vi"), (ZH, "zh-TW")):
        await store.link_channel(channel, meeting.id, language)
    return meeting


@pytest.fixture
async def engine(store, translator, sink, meeting):
    engine = RelayEngine(store, translator, sink, retry_every=0, sink_backoff=0.01)
    await engine.start()
    yield engine
    await engine.close()


def say(channel: int, text: str, author: str = "Carmen", **extra) -> Incoming:
    return Incoming(next(ids), channel, author_id=7, author_name=author, content=text, **extra)


async def test_facilitator_message_reaches_every_language_channel(engine, sink: MemorySink):
    await engine.handle_message(say(MAIN, "Welcome to the ELAC meeting."))
    await engine.drain()
    assert sink.texts(ES) == ["[es] Welcome to the ELAC meeting."]
    assert sink.texts(VI) == ["[vi] Welcome to the ELAC meeting."]
    assert sink.texts(ZH) == ["[繁] Welcome to the ELAC meeting."]
    assert sink.texts(MAIN) == []
    assert {m.author_name for ch in (ES, VI, ZH) for m in sink.channel(ch)} == {"Carmen"}


async def test_parent_message_reaches_english_and_the_other_families(engine, sink, libre):
    await engine.handle_message(say(VI, "Con tôi cần giúp đỡ.", author="Lan"))
    await engine.drain()
    assert sink.texts(MAIN) == ["[en] Con tôi cần giúp đỡ."]
    assert sink.texts(ES) == ["[es] Con tôi cần giúp đỡ."]
    assert sink.texts(ZH) == ["[繁] Con tôi cần giúp đỡ."]
    assert sink.texts(VI) == []
    assert sink.channel(MAIN)[0].author_name == "Lan · Tiếng Việt"
    assert {(c.source, c.target) for c in libre.fake.calls} == {("vi", "en"), ("vi", "es"), ("vi", "zt")}


async def test_edit_in_main_channel_updates_every_language_channel(engine, sink):
    msg = say(MAIN, "The meeting starts at 6.")
    await engine.handle_message(msg)
    await engine.drain()
    assert await engine.handle_edit(MAIN, msg.message_id, "The meeting starts at 7.")
    await engine.drain()
    for channel, tag in ((ES, "es"), (VI, "vi"), (ZH, "繁")):
        assert sink.texts(channel) == [f"[{tag}] The meeting starts at 7."]
    assert all(p.edits == 1 for p in sink.messages.values())


async def test_delete_in_main_channel_removes_every_copy(engine, sink):
    msg = say(MAIN, "Oops, wrong room.")
    await engine.handle_message(msg)
    await engine.drain()
    assert await engine.handle_delete(MAIN, msg.message_id)
    await engine.drain()
    assert sink.texts(ES) == sink.texts(VI) == sink.texts(ZH) == []
    assert len(sink.messages) == 3 and all(p.deleted for p in sink.messages.values())


async def test_edit_arriving_before_the_first_delivery_ends_with_the_edited_text(engine, sink, libre):
    libre.fake.latency = 0.2
    msg = say(MAIN, "Draft")
    await engine.handle_message(msg)
    await engine.handle_edit(MAIN, msg.message_id, "Final")
    await engine.drain()
    assert sink.texts(ES) == ["[es] Final"]


async def test_reply_points_at_the_relayed_counterpart_in_each_channel(engine, sink):
    question = say(VI, "Khi nào có kết quả ELPAC?", author="Lan")
    await engine.handle_message(question)
    await engine.drain()
    # The facilitator answers by replying to the relayed copy in the main channel.
    relayed_in_main = sink.channel(MAIN)
    relayed_main_id = next(p.id for p in sink.messages.values() if p.channel_id == MAIN)
    answer = say(MAIN, "In June.", reply_to=relayed_main_id)
    await engine.handle_message(answer)
    await engine.drain()
    assert relayed_in_main
    # In the Vietnamese channel the answer replies to Lan's own original message.
    assert sink.channel(VI)[-1].reply_to == question.message_id
    es_question_id = next(p.id for p in sink.messages.values() if p.channel_id == ES)
    assert sink.channel(ES)[-1].reply_to == es_question_id


async def test_order_is_kept_when_an_earlier_translation_finishes_last(engine, sink, libre):
    libre.fake.delay_for = lambda q, target: 0.5 if q.startswith("first") else 0.0
    await engine.handle_message(say(MAIN, "first, the agenda"))
    await engine.handle_message(say(MAIN, "second, the budget"))
    await engine.handle_message(say(MAIN, "third, questions"))
    await engine.drain()
    for channel, tag in ((ES, "es"), (VI, "vi"), (ZH, "繁")):
        assert sink.texts(channel) == [f"[{tag}] first, the agenda", f"[{tag}] second, the budget",
                                       f"[{tag}] third, questions"]  # fmt: skip


async def test_fan_out_asks_for_every_language_at_once_not_one_after_another(engine, sink, libre):
    libre.fake.latency = 0.3
    await engine.handle_message(say(MAIN, "Parallel please"))
    await engine.drain()
    assert libre.fake.peak_inflight == 3  # all three languages were being translated at the same time
    assert len(sink.messages) == 3


async def test_relayed_copies_and_bots_are_never_relayed_again(engine, sink, store):
    await engine.handle_message(say(MAIN, "Hello"))
    await engine.drain()
    copy = next(iter(sink.messages.values()))
    echoed = Incoming(copy.id, copy.channel_id, author_id=0, author_name="Carmen", content=copy.message.content)
    assert not await engine.handle_message(echoed)
    assert not await engine.handle_message(say(ES, "hola", is_bot=True))
    assert not await engine.handle_message(say(ES, "hola", webhook_id=555))
    await engine.drain()
    assert len(sink.messages) == 3


async def test_message_in_unlinked_channel_is_ignored(engine, sink):
    assert not await engine.handle_message(say(999, "Not a meeting channel"))
    await engine.drain()
    assert sink.messages == {}


async def test_markup_survives_translation_byte_for_byte(engine, sink):
    text = (
        "Hi <@123> and <@&456>, see <#789> at <t:1700000000:R> :) <:elac:42> "
        "https://example.org/a?b=1 `code` ||secret||"
    )
    await engine.handle_message(say(MAIN, text))
    await engine.drain()
    relayed = sink.texts(ES)[0]
    for token in ("<@123>", "<@&456>", "<#789>", "<t:1700000000:R>", "<:elac:42>", "https://example.org/a?b=1",
                  "`code`", "||secret||"):  # fmt: skip
        assert token in relayed


async def test_message_of_4000_characters_is_split_into_parts_on_sentence_ends(engine, sink):
    sentence = "The school site council approves the plan for student achievement every spring. "
    text = (sentence * 51).strip()
    assert len(text) > 4000
    await engine.handle_message(say(MAIN, text))
    await engine.drain()
    parts = sink.texts(ES)
    assert len(parts) >= 3
    assert all(len(p) <= 2000 for p in parts)
    assert all(p.rstrip().endswith(".") for p in parts)
    assert sum(p.count("spring.") for p in parts) == 51


async def test_editing_a_long_message_shorter_removes_the_extra_parts(engine, sink):
    msg = say(MAIN, ("A long sentence about the budget. " * 130).strip())
    await engine.handle_message(msg)
    await engine.drain()
    assert len(sink.texts(ES)) >= 3
    await engine.handle_edit(MAIN, msg.message_id, "Short now.")
    await engine.drain()
    assert sink.texts(ES) == ["[es] Short now."]


async def test_a_file_too_large_for_the_server_is_linked_to_the_original_not_downloaded(engine, sink):
    video = Attachment("https://cdn.example.org/video.mp4", "video.mp4", size=sink.upload_limit + 1, id=5)
    msg = say(MAIN, "Here is the recording", attachments=(video,))
    await engine.handle_message(msg)
    await engine.handle_message(say(MAIN, "", attachments=(video,)))
    await engine.drain()
    link = f"📎 [video.mp4](<memory://{MAIN}/{msg.message_id}>) (10.5 MB)"
    assert sink.texts(VI)[0] == f"[vi] Here is the recording\n{link}"
    assert sink.texts(VI)[1].startswith("📎 [video.mp4](<memory://")
    assert engine.files.fetcher.downloads == 0 and not any(m.files for m in sink.channel(VI))


async def test_backend_down_delivers_original_marked_then_edits_in_translation(engine, sink, libre, store):
    libre.fake.down = True
    msg = say(MAIN, "Vote on the LCAP tonight.")
    await engine.handle_message(msg)
    await engine.drain()
    es = sink.texts(ES)
    assert len(es) == 1 and es[0].startswith("Vote on the LCAP tonight.") and "aún sin traducir" in es[0]
    assert {r.state for r in await store.outbox(msg.message_id)} == {"untranslated"}
    libre.fake.down = False
    assert await engine.retry_now() == 3
    await engine.drain()
    assert sink.texts(ES) == ["[es] Vote on the LCAP tonight."]
    assert len(sink.messages) == 3  # edited in place, no second post
    assert {r.state for r in await store.outbox(msg.message_id)} == {"delivered"}


async def test_language_without_machine_translation_gets_the_original_for_an_interpreter(engine, sink, store, meeting):
    await store.link_channel(104, meeting.id, "quc")
    await engine.handle_message(say(MAIN, "Welcome, families."))
    await engine.drain()
    (text,) = sink.texts(104)
    assert text == (
        "Welcome, families.\n-# 🗣️ original in English (no machine translation for K'iche'); an interpreter may follow"
    )


async def test_pending_deliveries_survive_a_restart_and_are_sent_once(store, translator, meeting, libre):
    sink = MemorySink(fail_next=100)  # Discord unreachable: nothing gets posted
    first = RelayEngine(store, translator, sink, retry_every=0, hold=0)
    await first.start()
    await first.handle_message(say(MAIN, "Are you there?"))
    await first.drain()
    await first.close()
    assert sink.messages == {}
    sink.fail_next = 0
    second = RelayEngine(store, translator, sink, retry_every=0)
    await second.start()
    await second.drain()
    await second.close()
    assert sink.texts(ES) == ["[es] Are you there?"] and len(sink.messages) == 3


async def test_a_burst_of_messages_is_delivered_completely_and_in_order(engine, sink, caplog):
    lines = [f"Point {n} of the agenda." for n in range(60)]
    for line in lines:
        await engine.handle_message(say(MAIN, line))
    await engine.drain()
    for channel, tag in ((ES, "es"), (VI, "vi"), (ZH, "繁")):
        assert sink.texts(channel) == [f"[{tag}] {line}" for line in lines]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_hanging_backend_does_not_hold_the_meeting_past_the_deadline(engine, sink, libre, translator):
    translator.deadline = 0.5
    hanging = {"on": True}  # the first message's calls hang for 30 s while it is on
    libre.fake.delay_for = lambda q, target: 30.0 if hanging["on"] and q.startswith("Is everyone") else 0.0
    await engine.handle_message(say(MAIN, "Is everyone here?"))
    await engine.handle_message(say(MAIN, "Let us begin."))
    await engine.drain()
    es = sink.texts(ES)  # had the deadline not held, this would be the translation, 30 s later
    assert es[0].startswith("Is everyone here?") and "aún sin traducir" in es[0]
    assert es[1] == "[es] Let us begin."
    hanging["on"] = False
    await engine.retry_now()
    await engine.drain()
    assert sink.texts(ES) == ["[es] Is everyone here?", "[es] Let us begin."]


async def test_message_from_a_language_without_machine_translation_reaches_everyone_marked(
    engine, sink, store, meeting
):
    await store.link_channel(104, meeting.id, "quc")
    await engine.handle_message(say(104, "Utz awach", author="Tomás"))
    await engine.drain()
    for channel in (MAIN, ES, VI, ZH):
        (text,) = sink.texts(channel)
        assert text == "Utz awach\n-# 🗣️ original in K'iche' (no machine translation); an interpreter may follow"
    assert sink.texts(104) == []  # nothing echoed back into the author's own channel


# --- delivery you can promise: effectively once, in order, every failure visible ---------------------


def engine_with(store, translator, sink, **options) -> RelayEngine:
    return RelayEngine(store, translator, sink, retry_every=0, sink_backoff=0.01, **options)


async def test_a_post_whose_answer_was_lost_is_found_in_the_channel_not_posted_twice(store, translator, meeting):
    sink = MemorySink(lose_next_reply=1)  # the post is made, but the answer (its id) never comes back
    engine = engine_with(store, translator, sink)
    await engine.start()
    await engine.handle_message(say(MAIN, "Only once, please."))
    await engine.drain()
    await engine.close()
    for channel, tag in ((ES, "es"), (VI, "vi"), (ZH, "繁")):
        assert sink.texts(channel) == [f"[{tag}] Only once, please."]
    assert ("find", ES) in sink.calls or ("find", VI) in sink.calls or ("find", ZH) in sink.calls
    assert {r.state for r in await store.outbox_in_state("delivered")} == {"delivered"}


async def test_a_crash_after_posting_leaves_a_posting_row_that_the_next_run_finds(store, translator, meeting):
    sink = MemorySink()
    engine = engine_with(store, translator, sink)
    await engine.start()
    msg = say(MAIN, "Posted, then the power went out.")
    await engine.handle_message(msg)
    await engine.drain()
    await engine.close()
    # What a kill -9 between the post and its record leaves: the copy is in the channel, the row says 'posting'.
    for row in await store.outbox(msg.message_id):
        (relayed_id,) = await store.parts(msg.message_id, row.channel_id)
        await store.remove_part(relayed_id)
        await store.begin_post(msg.message_id, row.channel_id, sink.messages[relayed_id].message.content, None)
    restarted = engine_with(store, translator, sink)
    await restarted.start()
    await restarted.drain()
    await restarted.close()
    assert len(sink.messages) == 3  # nothing posted twice
    assert {r.state for r in await store.outbox(msg.message_id)} == {"delivered"}
    assert [len(await store.parts(msg.message_id, c)) for c in (ES, VI, ZH)] == [1, 1, 1]  # known again


async def test_a_failed_post_holds_the_messages_behind_it_instead_of_arriving_after_them(store, translator, meeting):
    failures = {"left": 3}

    def flaky(action, channel_id, message):
        if action == "post" and channel_id == ES and "Item 2" in message.content and failures["left"]:
            failures["left"] -= 1
            return SinkError("503 Service Unavailable")
        return None

    sink = MemorySink(fault=flaky)
    engine = engine_with(store, translator, sink, hold=30)
    await engine.start()
    for n in range(1, 6):
        await engine.handle_message(say(MAIN, f"Item {n}"))
    await engine.drain()
    await engine.close()
    assert sink.texts(ES) == [f"[es] Item {n}" for n in range(1, 6)]
    assert failures["left"] == 0


async def test_past_the_hold_a_failed_post_arrives_later_marked_late_with_a_link(store, translator, meeting):
    broken = {"on": True}

    def flaky(action, channel_id, message):
        if action == "post" and channel_id == ES and "Item 2" in message.content and broken["on"]:
            return SinkError("503 Service Unavailable")
        return None

    sink = MemorySink(fault=flaky)
    engine = engine_with(store, translator, sink, hold=0)  # no waiting: set aside at once
    await engine.start()
    for n in range(1, 4):
        await engine.handle_message(say(MAIN, f"Item {n}"))
    await engine.drain()
    assert sink.texts(ES) == ["[es] Item 1", "[es] Item 3"]
    broken["on"] = False
    assert await engine.retry_now() >= 1
    await engine.drain()
    await engine.close()
    item1 = next(p for p in sink.messages.values() if p.channel_id == ES and p.message.content == "[es] Item 1")
    assert sink.texts(ES)[-1] == f"[es] Item 2\n-# ⏱️ late: this message belongs after memory://{ES}/{item1.id}"
    assert sink.texts(VI) == ["[vi] Item 1", "[vi] Item 2", "[vi] Item 3"]  # other channels were not held


async def test_a_missing_permission_fails_its_deliveries_with_one_notice_in_the_main_channel(
    store, translator, meeting
):
    sink = MemorySink(errors={VI: SinkError("403 Missing Permissions", permission="Send Messages")})
    engine = engine_with(store, translator, sink)
    await engine.start()
    for n in range(3):
        await engine.handle_message(say(MAIN, f"Point {n}"))
    await engine.drain()
    assert sink.texts(ES) == [f"[es] Point {n}" for n in range(3)]
    (notice,) = sink.texts(MAIN)
    assert f"<#{VI}>" in notice and "Vietnamese" in notice and "**Send Messages**" in notice
    assert {r.state for r in await store.outbox_in_state("failed")} == {"failed"}
    posts_before = sink.calls.count(("post", VI))
    assert await engine.retry_now() == 0  # failed is final: nothing is retried every 30 s forever
    await engine.drain()
    await engine.close()
    assert sink.calls.count(("post", VI)) == posts_before


async def test_a_deleted_channel_is_unlinked_with_one_notice(store, translator, meeting):
    sink = MemorySink(errors={VI: SinkError("404 Unknown Channel", gone=True)})
    engine = engine_with(store, translator, sink)
    await engine.start()
    await engine.handle_message(say(MAIN, "First"))
    await engine.handle_message(say(MAIN, "Second"))
    await engine.drain()
    await engine.close()
    assert await store.channel(VI) is None
    (notice,) = sink.texts(MAIN)
    assert "Vietnamese" in notice and "/concord link" in notice
    assert sink.texts(ES) == ["[es] First", "[es] Second"]


async def test_after_unlink_nothing_owed_to_the_channel_is_retried(store, translator, sink, meeting, libre):
    libre.fake.latency = 0.2
    engine = engine_with(store, translator, sink)
    await engine.start()
    await engine.handle_message(say(MAIN, "Hello"))
    await store.unlink_channel(VI)  # while the translation is on its way
    await engine.drain()
    assert await engine.retry_now() == 0
    await engine.drain()
    await engine.close()
    assert sink.texts(VI) == []
    assert sink.texts(ES) == ["[es] Hello"]


async def test_a_delete_that_fails_is_retried_until_the_copy_is_gone(store, translator, meeting):
    failures = {"left": 2}

    def flaky(action, channel_id, message):
        if action == "delete" and failures["left"]:
            failures["left"] -= 1
            return SinkError("500 Internal Server Error")
        return None

    sink = MemorySink(fault=flaky)
    engine = engine_with(store, translator, sink)
    await engine.start()
    msg = say(VI, "Xin lỗi, nhầm kênh.", author="Lan")
    await engine.handle_message(msg)
    await engine.drain()
    assert await engine.handle_delete(VI, msg.message_id)
    await engine.drain()
    await engine.close()
    assert failures["left"] == 0
    assert sink.texts(MAIN) == sink.texts(ES) == sink.texts(ZH) == []  # a parent's deleted text is gone everywhere
    assert {r.state for r in await store.outbox(msg.message_id)} == {"deleted"}


async def test_during_an_outage_retries_queue_each_message_once_and_edit_only_changed_text(
    store, translator, sink, meeting, libre
):
    libre.fake.down = True
    engine = engine_with(store, translator, sink)
    await engine.start()
    for n in range(4):
        await engine.handle_message(say(MAIN, f"Line {n}"))
    await engine.drain()
    assert all("aún sin traducir" in t for t in sink.texts(ES))
    first = await engine.retry_now()
    again = await engine.retry_now()  # the first pass is still in flight: nothing is queued twice
    assert first == 12 and again == 0
    await engine.drain()
    assert sum(p.edits for p in sink.messages.values()) == 0  # still down: the same text is not sent again
    libre.fake.down = False
    assert await engine.retry_now() == 12
    await engine.drain()
    await engine.close()
    assert sink.texts(ES) == [f"[es] Line {n}" for n in range(4)]
    assert sum(p.edits for p in sink.messages.values()) == 12  # one edit per copy, when the translation came


async def test_an_edit_racing_its_message_is_never_lost_nor_overtaken(engine, sink, libre):
    libre.fake.latency = 0.05
    msg = say(MAIN, "Item 1")
    # discord.py runs each event as its own task: the edit starts before the message is even recorded.
    await asyncio.gather(
        engine.handle_message(msg),
        engine.handle_edit(MAIN, msg.message_id, "Item 1 (edited)"),
        engine.handle_message(say(MAIN, "Item 2")),
    )
    await engine.drain()
    assert sink.texts(ES) == ["[es] Item 1 (edited)", "[es] Item 2"]


async def test_a_store_transaction_is_all_or_nothing_while_others_write(store, meeting):
    async def interleaved_writes() -> None:
        for n in range(20):
            await store.cache_translation(f"k{n}", "x", "libre")

    async def failing_transaction() -> None:
        async with store.transaction():
            await store.create_meeting(1, "half-done")
            await asyncio.sleep(0.01)  # others try to write (and commit) meanwhile
            raise RuntimeError("boom")

    writer = asyncio.create_task(interleaved_writes())
    with pytest.raises(RuntimeError):
        await failing_transaction()
    await writer
    assert await store.meeting_by_name(1, "half-done") is None  # rolled back, though others committed around it
    assert await store.cached_translations(["k19"]) == {"k19": ("x", "libre", 0)}  # their writes survived the rollback


async def test_an_unexpected_error_in_a_delivery_keeps_the_message_and_tries_again(store, translator, meeting):
    broken = {"left": 2}

    def bug(action, channel_id, message):
        if action == "post" and channel_id == ES and broken["left"]:
            broken["left"] -= 1
            raise KeyError("a bug, not a Discord error")
        return None

    sink = MemorySink(fault=bug)
    engine = engine_with(store, translator, sink, hold=30)
    await engine.start()
    await engine.handle_message(say(MAIN, "Still delivered"))
    await engine.handle_message(say(MAIN, "And in order"))
    await engine.drain()
    await engine.close()
    assert sink.texts(ES) == ["[es] Still delivered", "[es] And in order"]
    assert broken["left"] == 0
