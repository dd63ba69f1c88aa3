"""The meeting lifecycle, texts and transcript records, without Discord: real store, real relay engine, the
fake LibreTranslate ("[es] ..." marks what was translated) and the memory sink."""

from __future__ import annotations

import sqlite3

import pytest

from bot import meetings
from bot.meetings import Bursts, MeetingError, localized, move, record, resolve_mentions
from bot.relay import Incoming, RelayEngine
from bot.store import MIGRATIONS, Channel, Settled, Source, Store, time_snowflake
from bot.transcripts import render_html, render_markdown

MAIN, ES, AR, MIX = 100, 101, 102, 103
_last = [0]


def next_id() -> int:
    """A Discord-like id: it carries the time it was made at, and grows."""
    _last[0] = max(_last[0] + 1, time_snowflake())
    return _last[0]


def say(channel: int, text: str, author: str = "Carmen", author_id: int = 7) -> Incoming:
    return Incoming(next_id(), channel, author_id=author_id, author_name=author, content=text)


@pytest.fixture
async def elac(store: Store):
    """A meeting made by `/meeting create`: relays only while live."""
    meeting, made = await store.create_managed_meeting(1, "ELAC", always_on=False)
    assert made
    for channel, language in ((MAIN, "en"), (ES, "es"), (AR, "ar"), (MIX, "mix")):
        await store.link_channel(channel, meeting.id, language)
    return meeting


@pytest.fixture
async def engine(store, translator, sink, elac):
    engine = RelayEngine(store, translator, sink, retry_every=0, sink_backoff=0.01)
    await engine.start()
    yield engine
    await engine.close()


async def act(store: Store, meeting_id: int, action: str) -> meetings.Step:
    return await move(store, await store.meeting(meeting_id), action)


# --- lifecycle -----------------------------------------------------------------------------------

ACTIONS = ("start", "pause", "end", "archive")
# (state before, action) -> state after; a pair not listed is refused with a MeetingError.
ALLOWED = {
    ("ready", "start"): "live", ("ready", "archive"): "archived",
    ("live", "pause"): "paused", ("live", "end"): "ended", ("live", "archive"): "archived",
    ("paused", "start"): "live", ("paused", "end"): "ended", ("paused", "archive"): "archived",
    ("ended", "start"): "live", ("ended", "archive"): "archived",
}  # fmt: skip
PATHS = {"ready": [], "live": ["start"], "paused": ["start", "pause"], "ended": ["start", "end"]}
PATHS["archived"] = ["archive"]


@pytest.mark.parametrize("state", meetings.STATES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_every_move_of_the_lifecycle_and_relaying_follows_the_state(store, elac, state, action):
    for step in PATHS[state]:
        await act(store, elac.id, step)
    assert (await store.meeting(elac.id)).state == state
    expected = ALLOWED.get((state, action))
    if expected is None:
        with pytest.raises(MeetingError):
            await act(store, elac.id, action)
        assert (await store.meeting(elac.id)).state == state  # nothing changed
        return
    await act(store, elac.id, action)
    after = await store.meeting(elac.id)
    assert after.state == expected and expected in meetings.MOVES[state]  # the table in bot/meetings.py agrees
    relays = await store.channel(ES) is not None
    assert relays == (expected == "live") == after.active


async def test_notices_say_started_resumed_paused_ended_and_end_asks_for_transcripts(store, elac):
    assert await act(store, elac.id, "start") == meetings.Step("live", "started", ended=False)
    assert await act(store, elac.id, "pause") == meetings.Step("paused", "paused", ended=False)
    assert await act(store, elac.id, "start") == meetings.Step("live", "resumed", ended=False)
    assert await act(store, elac.id, "end") == meetings.Step("ended", "ended", ended=True)
    assert await act(store, elac.id, "archive") == meetings.Step("archived", None, ended=False)


async def test_messages_are_relayed_only_while_the_meeting_is_live(store, engine, sink, elac):
    await engine.handle_message(say(MAIN, "Before the start."))
    await act(store, elac.id, "start")
    await engine.handle_message(say(MAIN, "Welcome."))
    await engine.drain()
    await act(store, elac.id, "pause")
    await engine.handle_message(say(MAIN, "Off the record."))
    await act(store, elac.id, "start")
    await act(store, elac.id, "end")
    await engine.handle_message(say(MAIN, "After the end."))
    await engine.drain()
    assert sink.texts(ES) == ["[es] Welcome."]


async def test_start_moves_catch_up_past_what_was_said_before_it(store, elac):
    before = time_snowflake() - 1
    assert await store.cursor(ES) <= time_snowflake()
    await act(store, elac.id, "start")
    assert await store.cursor(ES) > before  # a restart later never relays the chat from before the start


async def test_always_on_meeting_relays_before_start_and_after_end_until_archived(store, elac):
    await store.update_meeting(elac.id, always_on=True)
    assert await store.channel(ES) is not None
    await act(store, elac.id, "start")
    with pytest.raises(MeetingError, match="always on"):  # a pause would not stop it: refused, not pretended
        await act(store, elac.id, "pause")
    await act(store, elac.id, "end")
    assert await store.channel(ES) is not None
    await act(store, elac.id, "archive")
    assert await store.channel(ES) is None


async def test_meetings_linked_by_hand_keep_relaying_and_relinking_does_not_start_a_managed_one(store, elac):
    hand = await store.create_meeting(1, "DELAC")
    await store.link_channel(200, hand.id, "en")
    assert (await store.channel(200)) is not None and (await store.meeting(hand.id)).always_on
    await store.create_meeting(1, "ELAC")  # `/concord link meeting:ELAC` in another channel
    assert (await store.meeting(elac.id)).state == "ready" and await store.channel(ES) is None


async def test_a_database_from_before_meetings_keeps_relaying_its_linked_channels(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for version, script in enumerate(MIGRATIONS[:5], start=1):
            db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
        db.execute("INSERT INTO meetings (guild_id, name, created_at) VALUES (1, 'ELAC', 0)")
        db.execute("INSERT INTO channels (channel_id, meeting_id, language) VALUES (5, 1, 'es')")
    async with await Store.open(path) as store:
        assert await store.channel(5) == Channel(5, 1, "es")
        meeting = await store.meeting(1)
        assert (meeting.state, meeting.always_on, meeting.managed) == ("ready", True, False)


async def test_archived_meeting_refuses_everything(store, elac):
    await act(store, elac.id, "archive")
    for action in ACTIONS:
        with pytest.raises(MeetingError, match="archived"):
            await act(store, elac.id, action)


def test_bad_names_and_language_lists_are_refused_politely():
    assert meetings.clean_name("  ELAC \n October ") == "ELAC October"
    for name in ("", "   ", "x" * 81):
        with pytest.raises(MeetingError):
            meetings.clean_name(name)
    with pytest.raises(MeetingError, match="besides English"):
        meetings.parse_languages("en")
    assert [lang.code for lang in meetings.parse_languages("es, vi,en,es,fil")] == ["es", "vi", "tl"]


# --- texts in each language ----------------------------------------------------------------------


async def test_welcome_without_written_wording_is_machine_translated_and_marked_draft(translator):
    text = await localized("welcome", "fa", meeting="ELAC", translator=translator, keep_days=30)
    first, *_, last = text.split("\n")
    assert first.startswith("\u200f\u2067[ف] 👋 Welcome to **ELAC**!")  # translated, marked right-to-left
    assert "`Show original`" in text  # the menu's name is kept out of translation
    assert last == "-# ✏️ \u200f\u2067[ف] Draft: not yet reviewed by a person."


async def test_seeded_notice_is_used_as_written(translator, libre):
    text = await localized("started", "es", meeting="ELAC", translator=translator)
    assert text == (
        "▶️ La reunión **ELAC** ha comenzado. Desde ahora los mensajes se traducen.\n"
        "-# ✏️ Borrador: este texto aún no ha sido revisado por una persona."
    )
    assert libre.fake.calls == []


async def test_language_without_machine_translation_gets_english_for_its_interpreter(translator, libre):
    text = await localized("ended", "mix", meeting="ELAC", translator=translator)
    assert text.startswith("⏹️ **ELAC** has ended.") and "interpreter" in text.split("\n")[-1]
    assert libre.fake.calls == []


async def test_welcome_falls_back_to_english_when_translation_fails(translator, libre):
    libre.fake.down = True
    text = await localized("welcome", "so", meeting="ELAC", translator=translator)
    assert text.startswith("👋 Welcome to **ELAC**!")
    assert text.endswith("-# ✏️ Draft: not yet reviewed by a person.")


# --- transcripts ---------------------------------------------------------------------------------


async def names(kind: str, ident: int) -> str | None:
    return {("user", 42): "María", ("channel", ES): "español", ("role", 9): "Volunteers"}.get((kind, ident))


async def test_transcript_has_each_message_as_relayed_in_each_language_with_mentions_resolved(
    store, engine, sink, elac, libre
):
    await act(store, elac.id, "start")
    await engine.handle_message(say(MAIN, "Welcome <@42>, see <#101> and ask <@&9>. <t:0:f>"))
    await engine.drain()
    libre.fake.down = True
    await engine.handle_message(say(ES, "¿Y el IEP?", author="María", author_id=42))
    await engine.drain()
    await act(store, elac.id, "end")
    await engine.handle_message(say(MAIN, "After the end."))
    await engine.drain()
    meeting = await store.meeting(elac.id)

    made = await record(store, meeting, names=names, timezone="America/Los_Angeles")

    assert made.languages == ("en", "es", "ar", "mix")
    first, second = made.entries
    assert first.original == "Welcome @María, see #español and ask @Volunteers. 1969-12-31 16:00"
    assert first.renderings["es"].text == "[es] Welcome @María, see #español and ask @Volunteers. 1969-12-31 16:00"
    assert not first.renderings["es"].untranslated
    assert first.renderings["mix"].untranslated  # the interpreter channel got the original, marked
    assert (second.speaker, second.language) == ("María", "es")  # not "María · Español"
    assert second.renderings["en"].untranslated and second.renderings["en"].text == "¿Y el IEP?"
    page = render_markdown(made, "es")
    assert "María · Español" not in page and "Welcome @María" in page and "<@42>" not in page


async def test_transcript_shows_a_volunteers_correction(store, engine, sink, elac):
    await act(store, elac.id, "start")
    await engine.handle_message(say(MAIN, "The IEP meeting is Monday."))
    await engine.drain()
    (copy,) = [p for p in sink.messages.values() if p.channel_id == ES]
    await engine.correct(copy.id, "La reunión del IEP es el lunes.", by="Rosa")
    made = await record(store, await store.meeting(elac.id), names=names)
    assert made.entries[0].renderings["es"].text == "La reunión del IEP es el lunes."


async def test_messages_combined_into_one_post_each_get_their_own_text(store, elac):
    first, second = next_id(), next_id()
    for message_id, text in ((first, "One."), (second, "Two.")):
        source = Source(message_id, elac.id, MAIN, "en", "Carmen", None, text, None)
        await store.add_source(source, [Channel(ES, elac.id, "es")])
    late = "-# ⏱️ late: this message belongs after https://x"
    await store.settle(
        ES,
        [Settled(first, "delivered", 0, f"[es] One.\n[es] Two.\n{late}"),
         Settled(second, "delivered", 0, "[es] Two.", host_id=first)],
        [(first, 0, 555)],
    )  # fmt: skip
    made = await record(store, await store.meeting(elac.id), names=names)
    assert [e.renderings["es"].text for e in made.entries] == ["[es] One.", "[es] Two."]


async def test_transcript_of_a_session_leaves_out_earlier_sessions(store, engine, sink, elac):
    await act(store, elac.id, "start")
    await engine.handle_message(say(MAIN, "September meeting."))
    await engine.drain()
    await act(store, elac.id, "end")
    await act(store, elac.id, "start")
    await engine.handle_message(say(MAIN, "October meeting."))
    await engine.drain()
    made = await record(store, await store.meeting(elac.id), names=names)
    assert [e.original for e in made.entries] == ["October meeting."]


async def test_transcript_counts_who_picked_each_language(store, elac):
    for user, code in ((1, "es"), (2, "es"), (3, "ar"), (2, "ar")):  # user 2 switched to Arabic
        await store.record_pick(elac.id, user, code)
    made = await record(store, await store.meeting(elac.id), names=names)
    assert made.members == {"es": 1, "ar": 2}
    assert 'dir="rtl"' in render_html(made, "ar")


async def test_unknown_mentions_still_read_as_mentions():
    assert await resolve_mentions("<@1> <@&2> <#3> <:wave:4> </meeting start:5>", names) == (
        "@someone @role #channel :wave: /meeting start"
    )


# --- purge and interpreters ----------------------------------------------------------------------


async def test_purge_deletes_a_meetings_text_and_nothing_of_other_meetings(store, engine, elac):
    other = await store.create_meeting(1, "DELAC")
    await store.link_channel(300, other.id, "en")
    await store.link_channel(301, other.id, "es")
    await act(store, elac.id, "start")
    await engine.handle_message(say(MAIN, "Private matter."))
    await engine.handle_message(say(300, "Other meeting."))
    await engine.drain()
    assert await store.purge_meeting(elac.id) == 1
    assert await store.meeting_sources(elac.id) == []
    async with store.db.execute("SELECT count(*) FROM outbox o JOIN sources s ON s.message_id = o.source_id"
                                " WHERE s.meeting_id = ?", (elac.id,)) as cur:  # fmt: skip
        assert (await cur.fetchone())[0] == 0
    assert [s.content for s in await store.meeting_sources(other.id)] == ["Other meeting."]


def test_interpreters_are_called_once_per_burst_of_messages():
    now = [0.0]
    bursts = Bursts(quiet=60, clock=lambda: now[0])
    calls = []
    for at in (0, 10, 50, 100, 200, 201):
        now[0] = at
        calls.append(bursts.starts(MIX))
    assert calls == [True, False, False, False, True, False]
    assert bursts.starts(ES)  # each channel on its own
