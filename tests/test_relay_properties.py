"""Property: whatever order and timing message, edit and delete events arrive in (discord.py runs each
event as its own task), every channel ends up showing each source channel's messages, translated, exactly
once and in their original order: what the source channels show."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.relay import Incoming, RelayEngine
from bot.sinks import MemorySink
from bot.store import Store
from bot.translation import build_translator

MAIN, ES, VI = 100, 101, 102
TAGS = {MAIN: "en", ES: "es", VI: "vi"}


@dataclass(frozen=True)
class Event:
    kind: str  # post | edit | delete | pause
    channel: int = 0
    message: int = 0  # index of the message in its channel
    text: str = ""
    seconds: float = 0.0


@st.composite
def histories(draw) -> list[Event]:
    """People posting, editing and deleting in #main and #tiếng-việt, with pauses of various lengths."""
    events: list[Event] = []
    alive: dict[int, list[int]] = {MAIN: [], VI: []}
    counts = {MAIN: 0, VI: 0}
    for step in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["post", "post", "post", "edit", "delete", "pause"]))
        channel = draw(st.sampled_from([MAIN, VI]))
        if kind == "pause":
            events.append(Event("pause", seconds=draw(st.sampled_from([0.0, 0.005, 0.03]))))
        elif kind == "post" or not alive[channel]:
            index = counts[channel]
            counts[channel] += 1
            alive[channel].append(index)
            events.append(Event("post", channel, index, f"m{channel}-{index}"))
        else:
            index = draw(st.sampled_from(alive[channel]))
            if kind == "edit":
                events.append(Event("edit", channel, index, f"m{channel}-{index} edit {step}"))
            else:
                alive[channel].remove(index)
                events.append(Event("delete", channel, index))
    return events


def expected(events: list[Event]) -> dict[int, list[str]]:
    """What each source channel shows at the end, oldest first."""
    shown: dict[int, dict[int, str]] = {MAIN: {}, VI: {}}
    for e in events:
        if e.kind in ("post", "edit"):
            shown[e.channel][e.message] = e.text
        elif e.kind == "delete":
            del shown[e.channel][e.message]
    return {channel: [texts[i] for i in sorted(texts)] for channel, texts in shown.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=histories(), delays=st.lists(st.sampled_from([0.0, 0.002, 0.02]), min_size=1, max_size=5))
async def test_any_interleaving_of_events_ends_with_every_channel_showing_its_sources(
    libre, tmp_path_factory, events, delays
):
    libre.fake.delay_for = lambda q, target: delays[len(q) % len(delays)]  # translations finish out of order
    database = tmp_path_factory.mktemp("race") / "concord.db"
    config = Settings(_env_file=None, database=database, translator="libre", fallbacks=[], libre_url=libre.url)
    store = await Store.open(database)
    translator = build_translator(config, store)
    sink = MemorySink(latency=0.001)
    engine = RelayEngine(store, translator, sink, retry_every=0, sink_backoff=0.01)
    try:
        meeting = await store.create_meeting(1, "ELAC")
        for channel, language in ((MAIN, "en"), (ES, "es"), (VI, "vi")):
            await store.link_channel(channel, meeting.id, language)
        await engine.start()
        ids = itertools.count(1)
        message_ids: dict[tuple[int, int], int] = {}
        tasks = []
        for e in events:  # each event its own task, started in arrival order, as discord.py does
            if e.kind == "pause":
                await asyncio.sleep(e.seconds)
            elif e.kind == "post":
                message_ids[e.channel, e.message] = next(ids)
                msg = Incoming(message_ids[e.channel, e.message], e.channel, 7, "Ana", e.text)
                tasks.append(asyncio.create_task(engine.handle_message(msg)))
            elif e.kind == "edit":
                edit = engine.handle_edit(e.channel, message_ids[e.channel, e.message], e.text)
                tasks.append(asyncio.create_task(edit))
            else:
                tasks.append(asyncio.create_task(engine.handle_delete(e.channel, message_ids[e.channel, e.message])))
        await asyncio.gather(*tasks)
        await engine.drain()
        want = expected(events)
        for target in (MAIN, ES, VI):
            shown = sink.texts(target)
            for source in (MAIN, VI):
                if source == target:
                    continue
                prefix = f"[{TAGS[target]}] m{source}-"
                assert [t for t in shown if t.startswith(prefix)] == [f"[{TAGS[target]}] {t}" for t in want[source]]
            assert all(t.startswith(f"[{TAGS[target]}] m") for t in shown)  # nothing else, no marker, no notice
    finally:
        await engine.close()
        translator.close()
        await store.close()
