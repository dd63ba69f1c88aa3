"""All of Concord's SQL lives here: one aiosqlite connection, WAL, numbered migrations.

Other modules call the typed methods below; none of them writes SQL.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiosqlite

from bot.glossary.models import AuditEntry, Change, Concept, Rendering

log = logging.getLogger(__name__)

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
    # 2: the glossary. guild_id 0 = every server; a server's own row overrides the shared one.
    """
    CREATE TABLE glossary_concepts (
        key TEXT NOT NULL,
        guild_id INTEGER NOT NULL DEFAULT 0,
        term TEXT NOT NULL,
        type TEXT NOT NULL,          -- acronym | full | phrase
        policy TEXT NOT NULL,        -- keep | keep-expand | translate | dnt
        expansion TEXT NOT NULL DEFAULT '',
        en_variants TEXT NOT NULL DEFAULT '',  -- '|'-separated
        definition TEXT NOT NULL DEFAULT '',
        updated_by TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (key, guild_id)
    );
    CREATE TABLE glossary_renderings (
        concept_key TEXT NOT NULL,
        language TEXT NOT NULL,
        guild_id INTEGER NOT NULL DEFAULT 0,
        preferred TEXT NOT NULL,
        variants TEXT NOT NULL DEFAULT '',
        forbidden TEXT NOT NULL DEFAULT '',
        case_sensitive INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'draft',  -- draft | approved | forbidden
        source TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        updated_by TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (concept_key, language, guild_id)
    );
    -- Every glossary write is one row here; its id is the glossary version (AUTOINCREMENT: never reused).
    -- language '' = the concept row itself. before/after: the row as JSON, NULL when absent.
    CREATE TABLE glossary_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        by TEXT NOT NULL,
        action TEXT NOT NULL,
        concept_key TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT '',
        guild_id INTEGER NOT NULL DEFAULT 0,
        before TEXT,
        after TEXT
    );
    CREATE INDEX glossary_audit_entry ON glossary_audit (concept_key, language, guild_id);
    -- First mention of a keep-and-expand term per meeting and language (the message that expanded it).
    CREATE TABLE glossary_mentions (
        meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        language TEXT NOT NULL,
        concept_key TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (meeting_id, language, concept_key)
    );
    """,
    # 3: volunteers' corrections of relayed messages. The outbox row of a corrected copy gets state
    # 'corrected' (at the source version corrected), so retries leave it alone; an edit of the source by
    # its author (a newer version) translates again and replaces it.
    """
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        relayed_id INTEGER NOT NULL,
        source_id INTEGER NOT NULL REFERENCES sources(message_id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        source_version INTEGER NOT NULL,
        original TEXT NOT NULL,
        corrected TEXT NOT NULL,
        by TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX corrections_relayed ON corrections (relayed_id);
    CREATE INDEX corrections_source ON corrections (source_id);
    """,
    # 4: the translation cache keys each backend's answers apart, with the answer's rank on its route
    # (0 = first choice). Old rows are dropped: they were keyed by the first choice whoever answered, and
    # were stored without answer checks.
    """
    DELETE FROM translation_cache;
    ALTER TABLE translation_cache ADD COLUMN tier INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: glossary senses (phrases where a term's word is not the term), a case policy per rendering, and
    # meeting sessions: a keep-expand term is introduced again after a long silence (first mention per session).
    """
    ALTER TABLE glossary_concepts ADD COLUMN exceptions TEXT NOT NULL DEFAULT '';  -- '|'-separated
    ALTER TABLE glossary_renderings ADD COLUMN case_policy TEXT NOT NULL DEFAULT 'auto';  -- auto | exact
    CREATE TABLE glossary_sessions (
        meeting_id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        last_at REAL NOT NULL
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
class Relayed:
    """One relayed message (a part of a source's copy in a target channel)."""

    relayed_id: int
    source_id: int
    channel_id: int
    part: int
    language: str


@dataclass(frozen=True)
class Correction:
    """A volunteer's correction of one relayed message."""

    relayed_id: int
    source_id: int
    channel_id: int
    language: str
    source_version: int
    original: str
    corrected: str
    by: str
    at: float
    id: int = 0


@dataclass(frozen=True)
class OutboxRow:
    source_id: int
    channel_id: int
    language: str
    state: str
    version: int
    attempts: int


@dataclass(frozen=True)
class Done:
    rowcount: int
    lastrowid: int | None


@dataclass(frozen=True)
class Delivery:
    source_version: int
    source_deleted: bool
    state: str
    version: int
    parts: list[int]


class UnusableDatabase(Exception):
    """The database path cannot be used; the message says why in words a deployer can act on."""

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        super().__init__(reason)
        self.path = path


SQLITE_HEADER = b"SQLite format 3\x00"


def check_path(path: Path) -> None:
    """Refuse a path that cannot hold the database, before SQLite touches it.

    SQLite's own errors are cryptic ("unable to open database file"), and a device or a pipe can hang it.
    """
    if not str(path).strip():
        raise UnusableDatabase("is empty: give a file path, e.g. concord.db")
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        file = next(p for p in reversed(path.parents) if p.exists() and not p.is_dir())
        raise UnusableDatabase(f"is under {file}, which is a file, not a folder") from None
    except OSError as exc:
        raise UnusableDatabase(f"cannot be reached: {exc.strerror}") from None
    folder = path.absolute().parent
    if info is None:
        if not folder.exists():
            if not folder.parent.is_dir():
                raise UnusableDatabase(f"is in {folder}, which does not exist; create that folder first")
            folder = folder.parent  # the one folder we will create, 0700
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UnusableDatabase(f"cannot be created: this user may not write in {folder}")
        return
    if stat.S_ISDIR(info.st_mode):
        raise UnusableDatabase(f"is a folder; give a file in it, e.g. {path / 'concord.db'}")
    if not stat.S_ISREG(info.st_mode):
        raise UnusableDatabase("is not a regular file (a device, pipe or socket); give a file path, e.g. concord.db")
    if not os.access(path, os.R_OK | os.W_OK):
        raise UnusableDatabase("is not readable and writable by this user")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UnusableDatabase(f"is in {folder}, where this user may not write (SQLite keeps -wal and -shm there)")
    if info.st_size:
        with path.open("rb") as file:
            if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise UnusableDatabase("is not a SQLite database; give Concord its own file")


def _create_private(path: Path) -> list[Path]:
    """Make the folder (0700) and the file (0600) before SQLite does, so parents' text is not left readable:
    SQLite gives the -wal and -shm files the database file's mode. Returns what was created, to undo."""
    created = []
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700)
        created.append(path.parent)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        created.append(path)
    except FileExistsError:
        pass
    except OSError as exc:
        _undo(created)
        folder = path.absolute().parent
        if exc.errno == errno.ENOENT:  # /proc and the like: the folder exists but takes no new files
            raise UnusableDatabase(f"cannot be created: {folder} does not accept new files") from None
        raise UnusableDatabase(f"cannot be created in {folder}: {exc.strerror}") from None
    return created


def _owner_only(path: Path) -> None:
    """A database made by an older Concord, or copied in, may be readable by everyone: make it ours alone."""
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            info = file.stat()
            if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                file.chmod(0o600)
                log.warning("%s was readable by other users; it is now 0600 (owner only)", file)


def _undo(created: list[Path]) -> None:
    """Remove what a failed open created, so a bad path leaves nothing behind."""
    for made in reversed(created):
        if made.is_dir():
            with contextlib.suppress(OSError):
                made.rmdir()
            continue
        for file in (made, Path(f"{made}-wal"), Path(f"{made}-shm")):
            with contextlib.suppress(OSError):
                file.unlink()


def _check_schema(version: int, tables: int) -> None:
    """Refuse a database this Concord must not migrate: a newer one's, or another application's."""
    if version > len(MIGRATIONS):
        raise UnusableDatabase(
            f"was written by a newer Concord (schema {version}; this one knows {len(MIGRATIONS)}): "
            "upgrade Concord, or use another file"
        )
    if version == 0 and tables:
        raise UnusableDatabase("is another application's SQLite database; give Concord its own file")


def _sqlite_reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text:
        return "is locked by another program (is another Concord running on it?)"
    if "not a database" in text or "malformed" in text:
        return f"is damaged or not a SQLite database ({text})"
    return f"cannot be used: {text}"


@dataclass(frozen=True)
class DatabaseInfo:
    """What `python -m bot check` reports about the database."""

    exists: bool
    schema: int = 0
    meetings: int = 0
    channels: int = 0
    readable_by_others: tuple[str, ...] = ()  # files whose mode lets other users read parents' text


def inspect(path: Path) -> DatabaseInfo:
    """Look at the database without creating or migrating it (`check` must not change anything)."""
    try:
        return _inspect(path)
    except UnusableDatabase as exc:
        exc.path = path
        raise


def _inspect(path: Path) -> DatabaseInfo:
    check_path(path)
    if not path.exists():
        return DatabaseInfo(exists=False)
    loose = tuple(
        f"{file.name} ({stat.filemode(file.stat().st_mode)})"
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        if file.exists() and file.stat().st_mode & 0o077
    )
    try:
        db = sqlite3.connect(path, timeout=2)
    except sqlite3.Error as exc:
        raise UnusableDatabase(_sqlite_reason(exc)) from None
    try:
        schema = db.execute("PRAGMA user_version").fetchone()[0]
        _check_schema(schema, db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        if schema == 0:
            return DatabaseInfo(exists=True, readable_by_others=loose)
        meetings = db.execute("SELECT count(*) FROM meetings").fetchone()[0]
        channels = db.execute("SELECT count(*) FROM channels").fetchone()[0]
        return DatabaseInfo(True, schema, meetings, channels, loose)
    except sqlite3.Error as exc:
        raise UnusableDatabase(_sqlite_reason(exc)) from None
    finally:
        db.close()


class Store:
    """Typed access to the SQLite file. Use `async with await Store.open(path)` or call `close()`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        """Open (or create, 0600 in a 0700 folder it makes) the database and apply migrations.

        Raises UnusableDatabase, with one line saying why, when the path cannot hold it; aiosqlite's thread is
        closed on every way out, so a failed open never leaves the process hanging at exit.
        """
        try:
            return await cls._open(path)
        except UnusableDatabase as exc:
            exc.path = path
            raise

    @classmethod
    async def _open(cls, path: str | Path) -> Store:
        created: list[Path] | None = None
        if str(path) != ":memory:":
            path = Path(path)
            check_path(path)
            created = _create_private(path)
        try:
            db = await aiosqlite.connect(path)
        except sqlite3.Error as exc:
            _undo(created or [])
            raise UnusableDatabase(_sqlite_reason(exc)) from None
        try:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA busy_timeout=5000")
            store = cls(db)
            await store._check_schema()  # before anything writes to a file that may not be ours
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes
            await db.execute("PRAGMA foreign_keys=ON")
            await store.migrate()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await db.close()
            _undo(created or [])
            if isinstance(exc, sqlite3.Error):
                raise UnusableDatabase(_sqlite_reason(exc)) from None
            raise
        if created is not None:
            _owner_only(Path(path))
        return store

    async def _check_schema(self) -> None:
        async with self.db.execute("SELECT count(*) FROM sqlite_master") as cur:
            (tables,) = await cur.fetchone()
        _check_schema(await self.schema_version(), tables)

    async def close(self) -> None:
        """Close the connection and stop aiosqlite's thread; safe to call twice."""
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> Done:
        """Run one statement and close its cursor in aiosqlite's thread.

        A cursor left to the garbage collector is finalized on the event-loop thread, resetting its SQLite
        statement while aiosqlite's thread may be using it: "bad parameter or other API misuse"."""
        async with self.db.execute(sql, params) as cur:
            return Done(cur.rowcount, cur.lastrowid)

    async def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> Done:
        async with self.db.executemany(sql, rows) as cur:
            return Done(cur.rowcount, cur.lastrowid)

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
        await self._run(
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
        await self._run(
            "DELETE FROM channels WHERE meeting_id = ? AND language = ? AND channel_id != ?",
            (meeting_id, language, channel_id),
        )
        await self._run(
            "INSERT INTO channels (channel_id, meeting_id, language) VALUES (?, ?, ?) "
            "ON CONFLICT (channel_id) DO UPDATE SET meeting_id = excluded.meeting_id, language = excluded.language",
            (channel_id, meeting_id, language),
        )
        await self.db.commit()

    async def unlink_channel(self, channel_id: int) -> bool:
        cur = await self._run("DELETE FROM channels WHERE channel_id = ?", (channel_id,))
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
        await self._run(
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
        await self._run_many(
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
        cur = await self._run(
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
        cur = await self._run("UPDATE sources SET deleted = 1 WHERE message_id = ? AND deleted = 0", (message_id,))
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
        await self._run(
            "UPDATE outbox SET state = ?, version = COALESCE(?, version), last_error = ?, updated_at = ?,"
            " attempts = attempts + (CASE WHEN ? IS NULL THEN 0 ELSE 1 END)"
            " WHERE source_id = ? AND channel_id = ?",
            (state, version, error, time.time(), error, source_id, channel_id),
        )
        await self.db.commit()

    # --- message map -----------------------------------------------------------------------------

    async def delivery(self, source_id: int, channel_id: int) -> Delivery | None:
        """Everything a delivery must check, in one query (the relay's hot path: one round trip, not three)."""
        async with self.db.execute(
            "SELECT s.version, s.deleted, o.state, o.version,"
            " (SELECT group_concat(relayed_id) FROM (SELECT relayed_id FROM message_map"
            "   WHERE source_id = s.message_id AND channel_id = o.channel_id ORDER BY part))"
            " FROM sources s JOIN outbox o ON o.source_id = s.message_id"
            " WHERE s.message_id = ? AND o.channel_id = ?",
            (source_id, channel_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        parts = [int(p) for p in row[4].split(",")] if row[4] else []
        return Delivery(row[0], bool(row[1]), row[2], row[3], parts)

    async def delivered(
        self, source_id: int, channel_id: int, new_parts: list[tuple[int, int]], state: str, version: int
    ) -> None:
        """Record the last posted parts and the outbox state in one transaction."""
        await self._run_many(
            "INSERT OR REPLACE INTO message_map (source_id, channel_id, part, relayed_id) VALUES (?, ?, ?, ?)",
            [(source_id, channel_id, part, relayed_id) for part, relayed_id in new_parts],
        )
        await self.set_outbox(source_id, channel_id, state, version=version)

    async def add_part(self, source_id: int, channel_id: int, part: int, relayed_id: int) -> None:
        await self._run(
            "INSERT OR REPLACE INTO message_map (source_id, channel_id, part, relayed_id) VALUES (?, ?, ?, ?)",
            (source_id, channel_id, part, relayed_id),
        )
        await self.db.commit()

    async def remove_part(self, relayed_id: int) -> None:
        await self._run("DELETE FROM message_map WHERE relayed_id = ?", (relayed_id,))
        await self.db.commit()

    async def parts(self, source_id: int, channel_id: int) -> list[int]:
        """Relayed message ids of a source in one channel, in part order."""
        async with self.db.execute(
            "SELECT relayed_id FROM message_map WHERE source_id = ? AND channel_id = ? ORDER BY part",
            (source_id, channel_id),
        ) as cur:
            rows = await cur.fetchall()
        return [r[0] for r in rows]

    async def relayed(self, relayed_id: int) -> Relayed | None:
        """A relayed message with its source, channel, part and language; None if it is not ours."""
        async with self.db.execute(
            "SELECT m.relayed_id, m.source_id, m.channel_id, m.part, o.language FROM message_map m"
            " JOIN outbox o ON o.source_id = m.source_id AND o.channel_id = m.channel_id WHERE m.relayed_id = ?",
            (relayed_id,),
        ) as cur:
            row = await cur.fetchone()
        return Relayed(*row) if row else None

    # --- corrections -----------------------------------------------------------------------------

    async def record_correction(self, correction: Correction) -> int:
        """Store a correction and mark its outbox row 'corrected' at that source version, in one transaction."""
        c = correction
        try:
            cur = await self._run(
                "INSERT INTO corrections (relayed_id, source_id, channel_id, language, source_version, original,"
                " corrected, by, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.relayed_id, c.source_id, c.channel_id, c.language, c.source_version, c.original, c.corrected,
                 c.by, c.at),
            )  # fmt: skip
            await self._run(
                "UPDATE outbox SET state = 'corrected', version = ?, last_error = NULL, updated_at = ?"
                " WHERE source_id = ? AND channel_id = ?",
                (c.source_version, c.at, c.source_id, c.channel_id),
            )
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise
        return int(cur.lastrowid or 0)

    async def corrections(self, *, relayed_id: int | None = None, source_id: int | None = None) -> list[Correction]:
        """Corrections of one relayed message or of every copy of a source, oldest first."""
        sql, params = "SELECT * FROM corrections WHERE 1 = 1", []
        if relayed_id is not None:
            sql, params = sql + " AND relayed_id = ?", [*params, relayed_id]
        if source_id is not None:
            sql, params = sql + " AND source_id = ?", [*params, source_id]
        async with self.db.execute(sql + " ORDER BY id", params) as cur:
            rows = await cur.fetchall()
        return [Correction(**dict(r)) for r in rows]  # the columns are the fields

    async def purge(self, older_than_days: float) -> int:
        """Forget meeting text older than the retention period (messages, their maps, corrections, cache).

        Returns how many messages were forgotten. Glossaries and their history are kept."""
        cutoff = time.time() - older_than_days * 86400
        cur = await self._run("DELETE FROM sources WHERE created_at < ?", (cutoff,))
        await self._run("DELETE FROM translation_cache WHERE created_at < ?", (cutoff,))
        await self.db.commit()
        return cur.rowcount

    # --- translation cache -----------------------------------------------------------------------

    async def cached_translations(self, keys: Sequence[str]) -> dict[str, tuple[str, str, int]]:
        """key -> (text, backend, tier) for the keys that are cached."""
        marks = ",".join("?" * len(keys))
        sql = f"SELECT key, text, backend, tier FROM translation_cache WHERE key IN ({marks})"
        async with self.db.execute(sql, tuple(keys)) as cur:
            rows = await cur.fetchall()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    async def cache_translation(self, key: str, text: str, backend: str, tier: int = 0) -> None:
        await self._run(
            "INSERT OR REPLACE INTO translation_cache (key, text, backend, tier, created_at) VALUES (?, ?, ?, ?, ?)",
            (key, text, backend, tier, time.time()),
        )
        await self.db.commit()

    async def meeting_guild(self, meeting_id: int) -> int | None:
        async with self.db.execute("SELECT guild_id FROM meetings WHERE id = ?", (meeting_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else None

    # --- glossary --------------------------------------------------------------------------------

    async def glossary_version(self) -> int:
        """The id of the latest glossary change (0: never changed). Grows with every write."""
        async with self.db.execute("SELECT COALESCE(MAX(id), 0) FROM glossary_audit") as cur:
            row = await cur.fetchone()
        return int(row[0])

    async def glossary_concepts(self) -> list[Concept]:
        async with self.db.execute("SELECT * FROM glossary_concepts ORDER BY key, guild_id") as cur:
            rows = await cur.fetchall()
        return [_concept(r) for r in rows]

    async def glossary_renderings(self) -> list[Rendering]:
        async with self.db.execute("SELECT * FROM glossary_renderings ORDER BY concept_key, language, guild_id") as cur:
            rows = await cur.fetchall()
        return [_rendering(r) for r in rows]

    async def apply_glossary(self, changes: Sequence[Change], by: str) -> int:
        """Write glossary changes and their audit rows in one transaction; returns the new version.

        Each row (concept, or rendering per language and server) appears at most once in `changes`."""
        now = time.time()
        concept_rows, concept_deletes, rendering_rows, rendering_deletes, audit = [], [], [], [], []
        for change in changes:
            after = replace(change.after, updated_by=by, updated_at=now) if change.after is not None else None
            row = after or change.before
            assert row is not None
            if isinstance(row, Concept):
                ident: tuple = (row.key, "", row.guild_id)
                if isinstance(after, Concept):
                    concept_rows.append((
                        after.key, after.guild_id, after.term, after.type, after.policy, after.expansion,
                        "|".join(after.en_variants), after.definition, "|".join(after.exceptions), after.updated_by,
                        after.updated_at,
                    ))  # fmt: skip
                else:
                    concept_deletes.append((row.key, row.guild_id))
            else:
                ident = (row.concept_key, row.language, row.guild_id)
                if isinstance(after, Rendering):
                    rendering_rows.append((
                        after.concept_key, after.language, after.guild_id, after.preferred, "|".join(after.variants),
                        "|".join(after.forbidden), int(after.case_sensitive), after.status, after.source,
                        after.notes, after.case, after.updated_by, after.updated_at,
                    ))  # fmt: skip
                else:
                    rendering_deletes.append(ident)
            audit.append((now, by, change.action, *ident, _json(change.before), _json(after)))
        try:
            await self._run_many(
                "DELETE FROM glossary_renderings WHERE concept_key = ? AND language = ? AND guild_id = ?",
                rendering_deletes,
            )
            await self._run_many("DELETE FROM glossary_concepts WHERE key = ? AND guild_id = ?", concept_deletes)
            await self._run_many(
                "INSERT OR REPLACE INTO glossary_concepts (key, guild_id, term, type, policy, expansion,"
                " en_variants, definition, exceptions, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                concept_rows,
            )
            await self._run_many(
                "INSERT OR REPLACE INTO glossary_renderings (concept_key, language, guild_id, preferred, variants,"
                " forbidden, case_sensitive, status, source, notes, case_policy, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rendering_rows,
            )
            await self._run_many(
                "INSERT INTO glossary_audit (at, by, action, concept_key, language, guild_id, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                audit,
            )
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise
        return await self.glossary_version()

    async def glossary_history(
        self, concept_key: str, language: str | None = None, guild_id: int | None = None
    ) -> list[AuditEntry]:
        """Changes to a concept (and, with `language`, to its rendering in that language), newest first."""
        sql = "SELECT * FROM glossary_audit WHERE concept_key = ?"
        params: list[object] = [concept_key]
        if language is not None:
            sql += " AND language IN ('', ?)"
            params.append(language)
        if guild_id is not None:
            sql += " AND guild_id IN (0, ?)"
            params.append(guild_id)
        async with self.db.execute(sql + " ORDER BY id DESC", params) as cur:
            rows = await cur.fetchall()
        return [_audit(r) for r in rows]

    async def glossary_audit_entry(self, audit_id: int) -> AuditEntry | None:
        async with self.db.execute("SELECT * FROM glossary_audit WHERE id = ?", (audit_id,)) as cur:
            row = await cur.fetchone()
        return _audit(row) if row else None

    async def glossary_session(self, meeting_id: int) -> tuple[float, float] | None:
        """(started_at, last_at) of a meeting's current glossary session, None before its first message."""
        async with self.db.execute(
            "SELECT started_at, last_at FROM glossary_sessions WHERE meeting_id = ?", (meeting_id,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def save_glossary_session(self, meeting_id: int, started_at: float, last_at: float) -> None:
        await self._run(
            "INSERT OR REPLACE INTO glossary_sessions (meeting_id, started_at, last_at) VALUES (?, ?, ?)",
            (meeting_id, started_at, last_at),
        )
        await self.db.commit()

    async def claim_glossary_mention(
        self, meeting_id: int, language: str, concept_key: str, message_id: int, session_start: float
    ) -> int:
        """The message that introduces (expands) a term in this meeting's session and language: `message_id`
        when no message of the session did yet. One upsert, so two messages at the same moment cannot both win."""
        await self._run(
            "INSERT INTO glossary_mentions (meeting_id, language, concept_key, message_id, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (meeting_id, language, concept_key) DO UPDATE SET message_id = excluded.message_id,"
            " at = excluded.at WHERE glossary_mentions.at < ?",
            (meeting_id, language, concept_key, message_id, time.time(), session_start),
        )
        await self.db.commit()
        async with self.db.execute(
            "SELECT message_id FROM glossary_mentions WHERE meeting_id = ? AND language = ? AND concept_key = ?",
            (meeting_id, language, concept_key),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else message_id


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split("|") if v)


def _concept(r: aiosqlite.Row) -> Concept:
    return Concept(
        key=r["key"], term=r["term"], type=r["type"], policy=r["policy"], expansion=r["expansion"],
        en_variants=_split(r["en_variants"]), definition=r["definition"], exceptions=_split(r["exceptions"]),
        guild_id=r["guild_id"],
        updated_by=r["updated_by"], updated_at=r["updated_at"],
    )  # fmt: skip


def _rendering(r: aiosqlite.Row) -> Rendering:
    return Rendering(
        concept_key=r["concept_key"], language=r["language"], preferred=r["preferred"],
        variants=_split(r["variants"]), forbidden=_split(r["forbidden"]), case_sensitive=bool(r["case_sensitive"]),
        status=r["status"], source=r["source"], notes=r["notes"], case=r["case_policy"], guild_id=r["guild_id"],
        updated_by=r["updated_by"], updated_at=r["updated_at"],
    )  # fmt: skip


def _json(row: Concept | Rendering | None) -> str | None:
    return json.dumps(asdict(row), ensure_ascii=False) if row is not None else None


def _audit(r: aiosqlite.Row) -> AuditEntry:
    def load(raw: str | None) -> Concept | Rendering | None:
        if raw is None:
            return None
        data = json.loads(raw)
        if "concept_key" in data:
            for name in ("variants", "forbidden"):
                data[name] = tuple(data[name])
            return Rendering(**data)
        data["en_variants"] = tuple(data["en_variants"])
        data["exceptions"] = tuple(data.get("exceptions", ()))
        return Concept(**data)

    return AuditEntry(
        id=r["id"], at=r["at"], by=r["by"], action=r["action"], concept_key=r["concept_key"],
        language=r["language"], guild_id=r["guild_id"], before=load(r["before"]), after=load(r["after"]),
    )  # fmt: skip
