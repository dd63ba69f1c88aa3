"""All of Concord's SQL lives here: one aiosqlite connection, WAL, numbered migrations.

Other modules call the typed methods below; none of them writes SQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

# Each entry is one schema version; `PRAGMA user_version` records how many have been applied.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meetings (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        UNIQUE (guild_id, name)
    );
    CREATE TABLE channels (
        channel_id INTEGER PRIMARY KEY,
        meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        language TEXT NOT NULL,
        UNIQUE (meeting_id, language)
    );
    CREATE TABLE sources (
        message_id INTEGER PRIMARY KEY,
        meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        author_name TEXT NOT NULL,
        avatar_url TEXT,
        content TEXT NOT NULL,
        links TEXT NOT NULL DEFAULT '',  -- attachment links, relayed untranslated
        reply_to INTEGER,
        version INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    -- One row per (source message, target channel), written before any network call.
    -- state: pending | delivered | untranslated | deleted
    CREATE TABLE outbox (
        source_id INTEGER NOT NULL REFERENCES sources(message_id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        version INTEGER NOT NULL DEFAULT -1,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (source_id, channel_id)
    );
    CREATE INDEX outbox_state ON outbox (state);
    -- A source longer than 2000 characters becomes several relayed messages (parts).
    CREATE TABLE message_map (
        source_id INTEGER NOT NULL REFERENCES sources(message_id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        part INTEGER NOT NULL,
        relayed_id INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (source_id, channel_id, part)
    );
    CREATE TABLE translation_cache (
        key TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        backend TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
]


@dataclass(frozen=True)
class Channel:
    channel_id: int
    meeting_id: int
    language: str


@dataclass(frozen=True)
class Meeting:
    id: int
    guild_id: int
    name: str
    active: bool


@dataclass(frozen=True)
class Source:
    message_id: int
    meeting_id: int
    channel_id: int
    language: str
    author_name: str
    avatar_url: str | None
    content: str
    reply_to: int | None
    version: int = 0
    deleted: bool = False
    links: str = ""


@dataclass(frozen=True)
class OutboxRow:
    source_id: int
    channel_id: int
    language: str
    state: str
    version: int
    attempts: int


class Store:
    """Typed access to the SQLite file. Use `async with await Store.open(path)` or call `close()`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db)
        await store.migrate()
        return store

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0])

    async def migrate(self) -> None:
        """Apply pending migrations, each in its own transaction together with its version bump."""
        current = await self.schema_version()
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            await self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")

    # --- meetings and channels -------------------------------------------------------------------

    async def create_meeting(self, guild_id: int, name: str) -> Meeting:
        await self.db.execute(
            "INSERT INTO meetings (guild_id, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id, name) DO UPDATE SET active = 1",
            (guild_id, name, time.time()),
        )
        await self.db.commit()
        meeting = await self.meeting_by_name(guild_id, name)
        assert meeting is not None
        return meeting

    async def meeting_by_name(self, guild_id: int, name: str) -> Meeting | None:
        async with self.db.execute(
            "SELECT id, guild_id, name, active FROM meetings WHERE guild_id = ? AND name = ?",
            (guild_id, name),
        ) as cur:
            row = await cur.fetchone()
        return Meeting(row["id"], row["guild_id"], row["name"], bool(row["active"])) if row else None

    async def meetings(self, guild_id: int) -> list[Meeting]:
        async with self.db.execute(
            "SELECT id, guild_id, name, active FROM meetings WHERE guild_id = ? ORDER BY name", (guild_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [Meeting(r["id"], r["guild_id"], r["name"], bool(r["active"])) for r in rows]

    async def link_channel(self, channel_id: int, meeting_id: int, language: str) -> None:
        """Bind a channel to a meeting language; a channel belongs to one meeting, a language to one channel."""
        await self.db.execute(
            "DELETE FROM channels WHERE meeting_id = ? AND language = ? AND channel_id != ?",
            (meeting_id, language, channel_id),
        )
        await self.db.execute(
            "INSERT INTO channels (channel_id, meeting_id, language) VALUES (?, ?, ?) "
            "ON CONFLICT (channel_id) DO UPDATE SET meeting_id = excluded.meeting_id, language = excluded.language",
            (channel_id, meeting_id, language),
        )
        await self.db.commit()

    async def unlink_channel(self, channel_id: int) -> bool:
        cur = await self.db.execute("DELETE FROM channels WHERE channel_id = ?", (channel_id,))
        await self.db.commit()
        return cur.rowcount > 0

    async def channel(self, channel_id: int) -> Channel | None:
        async with self.db.execute(
            "SELECT c.channel_id, c.meeting_id, c.language FROM channels c "
            "JOIN meetings m ON m.id = c.meeting_id WHERE c.channel_id = ? AND m.active = 1",
            (channel_id,),
        ) as cur:
            row = await cur.fetchone()
        return Channel(*row) if row else None

    async def meeting_channels(self, meeting_id: int) -> list[Channel]:
        async with self.db.execute(
            "SELECT channel_id, meeting_id, language FROM channels WHERE meeting_id = ? ORDER BY channel_id",
            (meeting_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [Channel(*r) for r in rows]

    # --- sources and outbox ----------------------------------------------------------------------

    async def add_source(self, source: Source, targets: Iterable[Channel]) -> None:
        """Record a message and one pending outbox row per target, in one transaction."""
        now = time.time()
        await self.db.execute(
            "INSERT OR IGNORE INTO sources (message_id, meeting_id, channel_id, language, author_name,"
            " avatar_url, content, links, reply_to, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source.message_id,
                source.meeting_id,
                source.channel_id,
                source.language,
                source.author_name,
                source.avatar_url,
                source.content,
                source.links,
                source.reply_to,
                now,
            ),
        )
        await self.db.executemany(
            "INSERT OR IGNORE INTO outbox (source_id, channel_id, language, updated_at) VALUES (?, ?, ?, ?)",
            [(source.message_id, t.channel_id, t.language, now) for t in targets],
        )
        await self.db.commit()

    async def source(self, message_id: int) -> Source | None:
        async with self.db.execute("SELECT * FROM sources WHERE message_id = ?", (message_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Source(
            row["message_id"],
            row["meeting_id"],
            row["channel_id"],
            row["language"],
            row["author_name"],
            row["avatar_url"],
            row["content"],
            row["reply_to"],
            row["version"],
            bool(row["deleted"]),
            row["links"],
        )

    async def edit_source(self, message_id: int, content: str) -> int | None:
        """Store new content; returns the new version, or None when the message is unknown or deleted."""
        cur = await self.db.execute(
            "UPDATE sources SET content = ?, version = version + 1 "
            "WHERE message_id = ? AND deleted = 0 AND content != ?",
            (content, message_id, content),
        )
        await self.db.commit()
        if cur.rowcount == 0:
            return None
        source = await self.source(message_id)
        return source.version if source else None

    async def delete_source(self, message_id: int) -> bool:
        cur = await self.db.execute(
            "UPDATE sources SET deleted = 1 WHERE message_id = ? AND deleted = 0", (message_id,)
        )
        await self.db.commit()
        return cur.rowcount > 0

    async def outbox(self, source_id: int) -> list[OutboxRow]:
        async with self.db.execute(
            "SELECT source_id, channel_id, language, state, version, attempts FROM outbox "
            "WHERE source_id = ? ORDER BY channel_id",
            (source_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [OutboxRow(*r) for r in rows]

    async def outbox_in_state(self, *states: str) -> list[OutboxRow]:
        marks = ",".join("?" * len(states))
        async with self.db.execute(
            "SELECT source_id, channel_id, language, state, version, attempts FROM outbox "
            f"WHERE state IN ({marks}) ORDER BY source_id, channel_id",
            states,
        ) as cur:
            rows = await cur.fetchall()
        return [OutboxRow(*r) for r in rows]

    async def set_outbox(
        self,
        source_id: int,
        channel_id: int,
        state: str,
        version: int | None = None,
        error: str | None = None,
    ) -> None:
        await self.db.execute(
            "UPDATE outbox SET state = ?, version = COALESCE(?, version), last_error = ?, updated_at = ?,"
            " attempts = attempts + (CASE WHEN ? IS NULL THEN 0 ELSE 1 END)"
            " WHERE source_id = ? AND channel_id = ?",
            (state, version, error, time.time(), error, source_id, channel_id),
        )
        await self.db.commit()

    # --- message map -----------------------------------------------------------------------------

    async def add_part(self, source_id: int, channel_id: int, part: int, relayed_id: int) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO message_map (source_id, channel_id, part, relayed_id) VALUES (?, ?, ?, ?)",
            (source_id, channel_id, part, relayed_id),
        )
        await self.db.commit()

    async def remove_part(self, relayed_id: int) -> None:
        await self.db.execute("DELETE FROM message_map WHERE relayed_id = ?", (relayed_id,))
        await self.db.commit()

    async def parts(self, source_id: int, channel_id: int) -> list[int]:
        """Relayed message ids of a source in one channel, in part order."""
        async with self.db.execute(
            "SELECT relayed_id FROM message_map WHERE source_id = ? AND channel_id = ? ORDER BY part",
            (source_id, channel_id),
        ) as cur:
            rows = await cur.fetchall()
        return [r[0] for r in rows]

    async def relayed_from(self, relayed_id: int) -> tuple[int, int] | None:
        """(source message id, channel id) of a relayed message, or None if it is not ours."""
        async with self.db.execute(
            "SELECT source_id, channel_id FROM message_map WHERE relayed_id = ?", (relayed_id,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def is_relayed(self, message_id: int) -> bool:
        return await self.relayed_from(message_id) is not None

    # --- translation cache -----------------------------------------------------------------------

    async def cached_translation(self, key: str) -> tuple[str, str] | None:
        async with self.db.execute("SELECT text, backend FROM translation_cache WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def cache_translation(self, key: str, text: str, backend: str) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO translation_cache (key, text, backend, created_at) VALUES (?, ?, ?, ?)",
            (key, text, backend, time.time()),
        )
        await self.db.commit()
