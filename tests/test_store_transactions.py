"""The store under concurrency and across versions: one transaction for every multi-row write, one relay
process per database, and databases made by earlier versions migrate."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from test_cli import cli

from bot.glossary import Change, Concept
from bot.relay import RelayEngine
from bot.sinks import MemorySink
from bot.store import MIGRATIONS, Channel, Source, Store, exclusive


async def test_a_failed_glossary_import_leaves_nothing_behind_while_the_relay_keeps_writing(store):
    meeting = await store.create_meeting(1, "ELAC")
    await store.link_channel(11, meeting.id, "es")
    targets = [Channel(11, meeting.id, "es")]
    before = await store.glossary_version()
    changes = [Change("add", None, Concept(key=f"term{n}", term=f"Term {n}")) for n in range(300)]
    changes.append(Change(None, None, Concept(key="broken", term="Broken")))  # its audit row breaks NOT NULL

    async def relay_writes() -> None:  # the relay records messages (and commits) all the while
        for n in range(1, 40):
            await store.add_source(Source(n, meeting.id, 10, "en", "Carmen", None, f"m{n}", None), targets)
            await asyncio.sleep(0)

    writer = asyncio.create_task(relay_writes())
    await asyncio.sleep(0)
    with pytest.raises(sqlite3.IntegrityError):
        await store.apply_glossary(changes, by="volunteer")
    await writer
    assert [c for c in await store.glossary_concepts() if c.key.startswith("term")] == []  # no half import
    assert await store.glossary_version() == before
    assert all([await store.source(n) for n in range(1, 40)])  # and the relay's writes were not rolled back


async def test_a_glossary_import_is_written_with_its_audit_rows_and_version(store):
    changes = [Change("add", None, Concept(key=f"term{n}", term=f"Term {n}")) for n in range(50)]
    version = await store.apply_glossary(changes, by="volunteer")
    assert len([c for c in await store.glossary_concepts() if c.key.startswith("term")]) == 50
    assert version == await store.glossary_version() and await store.glossary_audit_entry(version) is not None


def test_a_second_run_on_the_same_database_exits_with_a_clear_message(tmp_path):
    with exclusive(tmp_path / "concord.db"):  # a Concord already running on it
        result = cli("run", cwd=tmp_path, env={"DISCORD_TOKEN": "not-used"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "already running on" in line and "concord.db" in line


def test_the_lock_is_released_when_its_process_ends(tmp_path):
    with exclusive(tmp_path / "concord.db"):
        pass
    with exclusive(tmp_path / "concord.db"):  # a restart after a crash is never blocked by a stale lock
        pass


async def test_a_database_from_before_this_version_migrates_and_its_pending_messages_are_delivered(
    tmp_path, translator_for
):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    for version, script in enumerate(MIGRATIONS[:3], start=1):
        old.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    old.executescript(
        "INSERT INTO meetings (id, guild_id, name, created_at) VALUES (1, 1, 'ELAC', 0);"
        "INSERT INTO channels VALUES (10, 1, 'en'), (11, 1, 'es');"
        "INSERT INTO sources (message_id, meeting_id, channel_id, language, author_name, content, created_at)"
        " VALUES (77, 1, 10, 'en', 'Carmen', 'Left pending by the old version', strftime('%s', 'now'));"
        "INSERT INTO outbox (source_id, channel_id, language, updated_at) VALUES (77, 11, 'es', 0);"
    )
    old.close()
    store = await Store.open(path)
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        assert await store.cursor(10) == 77  # catch-up starts after the last message the old version handled
        sink = MemorySink()
        translator = translator_for(store)
        engine = RelayEngine(store, translator, sink, retry_every=0)
        await engine.start()
        await engine.drain()
        await engine.close()
        assert sink.texts(11) == ["[es] Left pending by the old version"]
    finally:
        await store.close()


async def test_a_message_is_recorded_whole_or_not_at_all_and_other_writes_go_on(store):
    """A write that fails halfway (here its cursor update) leaves neither the message nor its outbox rows, so
    catch-up reads it again after a restart; the next writes of other channels are unaffected."""
    meeting = await store.create_meeting(1, "ELAC")
    await store.link_channel(11, meeting.id, "es")
    targets = [Channel(11, meeting.id, "es")]
    await store.db.execute(
        "CREATE TRIGGER full_disk BEFORE INSERT ON channel_cursors WHEN NEW.channel_id = 99"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    await store.db.commit()
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        await store.add_source(Source(5, meeting.id, 99, "en", "Carmen", None, "Lost halfway?", None), targets)
    assert await store.source(5) is None and await store.outbox(5) == []
    assert await store.add_source(Source(6, meeting.id, 10, "en", "Carmen", None, "Next one", None), targets)
    assert [r.channel_id for r in await store.outbox(6)] == [11] and await store.cursor(10) == 6
