"""The SQLite store: migrations, WAL, and the mappings the relay depends on."""

from __future__ import annotations

from bot.store import MIGRATIONS, Source, Store


async def test_new_database_is_migrated_to_the_latest_schema_in_wal_mode(tmp_path):
    store = await Store.open(tmp_path / "a.db")
    assert await store.schema_version() == len(MIGRATIONS)
    async with store.db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    await store.close()


async def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path):
    store = await Store.open(tmp_path / "a.db")
    meeting = await store.create_meeting(1, "DELAC")
    await store.link_channel(10, meeting.id, "en")
    await store.close()
    again = await Store.open(tmp_path / "a.db")
    assert (await again.channel(10)).meeting_id == meeting.id
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_a_language_has_one_channel_per_meeting_and_relinking_moves_it(store):
    meeting = await store.create_meeting(1, "SSC")
    await store.link_channel(10, meeting.id, "es")
    await store.link_channel(11, meeting.id, "es")
    assert [c.channel_id for c in await store.meeting_channels(meeting.id)] == [11]
    assert await store.channel(10) is None


async def test_source_outbox_and_parts_round_trip(store):
    meeting = await store.create_meeting(1, "ELAC")
    await store.link_channel(10, meeting.id, "en")
    await store.link_channel(11, meeting.id, "vi")
    targets = [c for c in await store.meeting_channels(meeting.id) if c.channel_id == 11]
    await store.add_source(Source(5, meeting.id, 10, "en", "Carmen", None, "hi", None), targets)
    assert [r.state for r in await store.outbox(5)] == ["pending"]
    await store.add_part(5, 11, 0, 900)
    await store.add_part(5, 11, 1, 901)
    assert await store.parts(5, 11) == [900, 901]
    copy = await store.relayed(901)
    assert (copy.source_id, copy.channel_id, copy.part, copy.language) == (5, 11, 1, "vi")
    assert await store.edit_source(5, "hello") == 1
    assert await store.edit_source(5, "hello") is None  # unchanged content is not a new version
    assert await store.delete_source(5) and (await store.source(5)).deleted


async def test_purge_forgets_meeting_text_past_retention_but_keeps_recent(store):
    meeting = await store.create_meeting(1, "ELAC")
    await store.link_channel(11, meeting.id, "vi")
    target = await store.meeting_channels(meeting.id)
    await store.add_source(Source(1, meeting.id, 10, "en", "Carmen", None, "old", None), target)
    await store.add_source(Source(2, meeting.id, 10, "en", "Carmen", None, "new", None), target)
    await store.add_part(1, 11, 0, 900)
    await store.db.execute("UPDATE sources SET created_at = created_at - 40 * 86400 WHERE message_id = 1")
    await store.db.commit()
    assert await store.purge(older_than_days=30) == 1
    assert await store.source(1) is None and await store.relayed(900) is None
    assert await store.outbox(1) == []
    assert (await store.source(2)).content == "new"
