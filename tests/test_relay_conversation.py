"""The engine's side of conversations, through the memory sink: files (downloaded once, with a cap, never posted
twice), the language a message is written in (edits too), and threads started from a copy. The files are
served by the loopback Discord's CDN; translation by the fake LibreTranslate. End to end on Discord:
tests/test_conversation.py."""

from __future__ import annotations

import asyncio

import pytest
import test_relay as relay

from bot.files import FileFetcher
from bot.relay import Attachment
from bot.testing.discord_server import FakeDiscord
from bot.threads import ThreadMirror

MAIN, ES, VI, ZH = relay.MAIN, relay.ES, relay.VI, relay.ZH
meeting = relay.meeting
engine = relay.engine
say = relay.say


@pytest.fixture
async def cdn():
    server = await FakeDiscord().start()
    yield server
    await server.close()


def hosted(cdn: FakeDiscord, name: str, data: bytes, description: str | None = None) -> Attachment:
    a = cdn.attach(name, data, description)
    return Attachment(a["url"], name, a["size"], description, int(a["id"]))


async def test_files_are_downloaded_once_and_posted_into_every_channel(engine, sink, cdn):
    pdf = hosted(cdn, "agenda.pdf", b"%PDF" + bytes(5000))
    png = hosted(cdn, "map.png", b"\x89PNG" + bytes(3000), "Map of the school")
    await engine.handle_message(say(MAIN, "Agenda and map", attachments=(pdf, png)))
    await engine.drain()
    for channel, tag in ((ES, "es"), (VI, "vi"), (ZH, "繁")):
        (copy,) = sink.channel(channel)
        assert copy.content == f"[{tag}] Agenda and map"
        assert [(f.filename, f.description) for f in copy.files] == [
            ("agenda.pdf", None),
            ("map.png", f"[{tag}] Map of the school"),
        ]
        assert [len(f.data) for f in copy.files] == [5004, 3004]
    assert engine.files.fetcher.downloads == 2  # once each, for three channels


async def test_a_post_with_files_whose_answer_was_lost_is_found_not_posted_twice(engine, sink, cdn):
    photo = hosted(cdn, "slip.png", b"\x89PNG" + bytes(2000))
    sink.lose_next_reply = 1  # the post is made, its answer lost
    await engine.handle_message(say(MAIN, "", attachments=(photo,)))
    await engine.drain()
    for channel in (ES, VI, ZH):
        (copy,) = sink.channel(channel)
        assert copy.content == "" and [f.filename for f in copy.files] == ["slip.png"]


async def test_a_file_larger_than_it_said_is_cut_off_at_the_cap_and_linked(engine, sink, cdn):
    sink.upload_limit = 40 * 1024  # a post there takes 24 KiB of files once the message's own room is left
    liar = hosted(cdn, "scan.pdf", bytes(100 * 1024))
    liar = Attachment(liar.url, liar.filename, 1000, None, liar.id)  # says 1 KB
    msg = say(MAIN, "Scan", attachments=(liar,))
    await engine.handle_message(msg)
    await engine.drain()
    assert sink.texts(ES) == [f"[es] Scan\n📎 [scan.pdf](<memory://{MAIN}/{msg.message_id}>)"]
    assert engine.files.fetcher.downloads == 0  # given up at the cap, nothing kept


async def test_one_download_serves_every_channel_asking_at_once(cdn):
    url = cdn.attach("flyer.pdf", bytes(50_000))["url"]
    fetcher = FileFetcher()
    try:
        got = await asyncio.gather(*(fetcher.get(url, 100_000) for _ in range(6)))
        assert all(len(g) == 50_000 for g in got) and fetcher.downloads == 1
        assert await fetcher.get(url, 10_000) is None  # over another channel's cap
    finally:
        await fetcher.close()


async def test_an_edit_in_another_language_is_translated_from_that_language(engine, sink, libre):
    msg = say(ES, "¿A qué hora empieza la reunión mañana?", author="Rosa")
    await engine.handle_message(msg)
    await engine.drain()
    assert sink.texts(MAIN) == ["[en] ¿A qué hora empieza la reunión mañana?"]

    libre.fake.calls.clear()
    await engine.handle_edit(ES, msg.message_id, "What time does the meeting start tomorrow?")
    await engine.drain()
    assert sink.texts(MAIN) == ["What time does the meeting start tomorrow?"]  # as written
    assert sink.texts(VI) == ["[vi] What time does the meeting start tomorrow?"]
    assert sink.channel(MAIN)[0].author_name == "Rosa · Español"
    assert {(c.source, c.target) for c in libre.fake.calls} == {("en", "vi"), ("en", "zt")}  # none for #main


async def test_a_thread_started_from_a_copy_is_mirrored_from_the_original_and_the_other_copies(
    engine, sink, store, translator
):
    msg = say(MAIN, "Lunch menu for the week")
    await engine.handle_message(msg)
    await engine.drain()
    (in_vi,) = await store.parts(msg.message_id, VI)

    threads = ThreadMirror(store, engine, sink, translator)
    assert await threads.started(in_vi, VI, "Bữa trưa")  # a parent starts it on the copy in #tiếng-việt
    made = {t.channel_id: t for t in sink.threads.values()}
    assert made[MAIN].message_id == msg.message_id  # the original
    assert made[ES].message_id == (await store.parts(msg.message_id, ES))[0]
    assert (made[MAIN].name, made[ES].name) == ("[en] Bữa trưa", "[es] Bữa trưa")

    await engine.handle_message(say(in_vi, "Có món chay không?", author="Lan"))
    await engine.drain()
    assert sink.texts(made[MAIN].id) == ["[en] Có món chay không?"]
    assert sink.texts(made[ZH].id) == ["[繁] Có món chay không?"]
    assert sink.texts(MAIN) == []  # the thread's messages stay in the threads


async def test_thread_counterparts_a_crash_left_unmade_are_made_at_the_next_start(engine, sink, store, translator):
    msg = say(MAIN, "Field trip on Friday")
    await engine.handle_message(msg)
    await engine.drain()
    # The previous run linked the thread started on #main's message, then died before making its counterparts.
    elac = await store.channel(MAIN)
    group = await store.create_thread_group(elac.meeting_id, f"thread {msg.message_id}: Permission slips")
    await store.link_channel(msg.message_id, group, "en")

    threads = ThreadMirror(store, engine, sink, translator)
    assert await threads.resume(since=0) == 1
    assert sorted(t.channel_id for t in sink.threads.values()) == [ES, VI, ZH]
    assert {c.language for c in await store.meeting_channels(group)} == {"en", "es", "vi", "zh-TW"}
    assert await threads.resume(since=0) == 0  # complete: nothing more
