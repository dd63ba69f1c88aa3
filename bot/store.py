"""All of Concord's SQL lives here: one aiosqlite connection, WAL, numbered migrations.

Other modules call the typed methods below; none of them writes SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.glossary.models import AuditEntry, Change, Concept, Rendering, Stale

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    # 5: delivery you can promise. Outbox states and moves are listed in `OUTBOX_MOVES`. body: the exact text the
    # channel shows, or is being posted (a restart finds a `posting` post by it); posted_after: the newest relayed
    # message in the channel when that post began (where to look); next_attempt_at: backoff; host_id: this copy
    # was combined into another source's post. channel_cursors: the last source message handled per linked
    # channel, where catch-up starts after a restart or a new gateway session.
    """
    ALTER TABLE outbox ADD COLUMN next_attempt_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN body TEXT;
    ALTER TABLE outbox ADD COLUMN posted_after INTEGER;
    ALTER TABLE outbox ADD COLUMN host_id INTEGER;
    CREATE INDEX outbox_channel ON outbox (channel_id, state);
    CREATE INDEX outbox_host ON outbox (host_id, channel_id) WHERE host_id IS NOT NULL;
    CREATE INDEX message_map_channel ON message_map (channel_id, source_id);
    CREATE TABLE channel_cursors (
        channel_id INTEGER PRIMARY KEY,
        last_message_id INTEGER NOT NULL
    );
    INSERT INTO channel_cursors (channel_id, last_message_id)
        SELECT c.channel_id, COALESCE(
            (SELECT MAX(s.message_id) FROM sources s WHERE s.channel_id = c.channel_id),
            (CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 1420070400000) << 22)
        FROM channels c;
    """,
    # 6: glossary senses (phrases where a term's word is not the term), a case policy per rendering, and
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
    # 7: conversations. sources.files: the message's attachments (JSON list of {id, url, filename, size,
    # description}), relayed as files; outbox.files: ids of those uploaded with the copy's first part (JSON; NULL:
    # not known). reactions: who holds which emoji on a message or one of its copies (user 0: Concord's mirror).
    # meetings.parent_id: a thread group, a meeting whose channels are one thread per language, active with its
    # meeting. member_languages: the language a member reads ("Translate to my language").
    """
    ALTER TABLE sources ADD COLUMN files TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE outbox ADD COLUMN files TEXT;
    CREATE TABLE reactions (
        source_id INTEGER NOT NULL REFERENCES sources(message_id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        emoji TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        PRIMARY KEY (message_id, emoji, user_id)
    );
    CREATE INDEX reactions_source ON reactions (source_id, emoji);
    ALTER TABLE meetings ADD COLUMN parent_id INTEGER REFERENCES meetings(id) ON DELETE CASCADE;
    CREATE TRIGGER thread_groups_follow_their_meeting AFTER UPDATE OF active ON meetings
    BEGIN
        UPDATE meetings SET active = NEW.active WHERE parent_id = NEW.id;
    END;
    CREATE TABLE member_languages (
        guild_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );
    """,
    # 8: meetings run from slash commands (bot/meetings.py). state: ready | live | paused | ended | archived;
    # `active` (relaying) follows it: live, or always_on and not archived. Meetings linked by hand before this
    # (and by `/concord link`) are always on, so they keep relaying as they did. managed: made by `/meeting
    # create`, which records each Discord object it makes (category, picker message, interpreter role; per
    # channel its language role and pinned welcome) so running it again repairs what is missing.
    # meeting_members: who picked which language in the picker, for attendance.
    """
    ALTER TABLE meetings ADD COLUMN state TEXT NOT NULL DEFAULT 'ready';
    ALTER TABLE meetings ADD COLUMN always_on INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE meetings ADD COLUMN managed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE meetings ADD COLUMN share_transcripts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE meetings ADD COLUMN category_id INTEGER;
    ALTER TABLE meetings ADD COLUMN picker_message_id INTEGER;
    ALTER TABLE meetings ADD COLUMN interpreter_role_id INTEGER;
    ALTER TABLE meetings ADD COLUMN started_at REAL;
    ALTER TABLE meetings ADD COLUMN ended_at REAL;
    ALTER TABLE channels ADD COLUMN role_id INTEGER;
    ALTER TABLE channels ADD COLUMN welcome_id INTEGER;
    CREATE TABLE meeting_members (
        meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (meeting_id, user_id)
    );
    CREATE INDEX sources_meeting ON sources (meeting_id, message_id);
    """,
]

DISCORD_EPOCH_MS = 1420070400000

# The outbox state machine: one row per (source message, target channel), written before any network call.
OUTBOX_MOVES: dict[str, set[str]] = {
    "pending": {"posting", "delivered", "untranslated", "deleted", "failed"},  # work to do: post, edit, delete
    "posting": {"delivered", "untranslated", "pending", "deleted", "failed"},  # a post in flight: look it up first
    "delivered": {"pending"},  # the source was edited or deleted
    "untranslated": {"pending", "delivered"},  # the original is shown, marked; a retry edits the translation in
    "corrected": {"pending"},  # a volunteer's text; only an edit or delete of the source replaces it
    "deleted": set(),
    "failed": {"pending"},  # terminal for posts and edits; a delete of the source still removes a copy
}
LIVE_STATES = ("pending", "posting", "delivered", "untranslated", "corrected")


def time_snowflake(at: float | None = None) -> int:
    """The smallest Discord id of a message posted at `at` (default now): ids grow with time."""
    return (int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS) << 22


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


class DatabaseLocked(Exception):
    """Another Concord process relays from this database: a second one would post every message twice."""


@contextlib.contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold `<database>.lock` for as long as this process relays from the database.

    The operating system releases the lock when the process ends, however it ends (kill -9 included), so a
    stale lock never blocks a restart. Raises DatabaseLocked when another process holds it."""
    if str(path) == ":memory:":
        yield
        return
    import fcntl  # POSIX only; Concord runs on Linux and macOS

    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 20).decode(errors="replace").strip()
            who = f" (pid {pid})" if pid.isdigit() else ""
            raise DatabaseLocked(
                f"another Concord process{who} is already running on {path}; stop it first "
                "(two processes on one database would post every message twice)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


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
    active: bool  # relaying now
    state: str = "ready"  # bot.meetings.STATES
    always_on: bool = True
    managed: bool = False  # made by `/meeting create`: Concord owns its category, channels and roles
    share_transcripts: bool = False  # transcripts are also posted in each language channel
    category_id: int | None = None
    picker_message_id: int | None = None
    interpreter_role_id: int | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True)
class Room:
    """A channel of a meeting with what `/meeting create` made for it."""

    channel_id: int
    meeting_id: int
    language: str
    role_id: int | None = None  # the language role that shows the channel
    welcome_id: int | None = None  # the pinned welcome message


@dataclass(frozen=True)
class Copy:
    """A source message as one channel shows it (for transcripts): the outbox row and any correction."""

    source_id: int
    channel_id: int
    language: str
    state: str
    body: str | None
    host_id: int | None
    corrected: str | None  # the volunteers' corrections of its parts, in part order, joined by newlines


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message. `size` in bytes (0: unknown); `description` is its alt text."""

    url: str
    filename: str
    size: int = 0
    description: str | None = None
    id: int = 0


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
    links: str = ""  # attachment links of messages recorded before files were relayed as files
    files: tuple[Attachment, ...] = ()


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
    last_error: str | None = None
    next_attempt_at: float = 0.0


@dataclass(frozen=True)
class Done:
    rowcount: int
    lastrowid: int | None


@dataclass(frozen=True)
class Delivery:
    """One outbox row with everything a delivery must check: the source as it is now, and the copy as the
    channel shows it (state, source version shown, body, relayed parts)."""

    source: Source
    channel_id: int
    language: str
    state: str
    version: int
    attempts: int
    body: str | None
    posted_after: int | None
    host_id: int | None
    parts: list[int]
    linked: bool  # the target channel is still linked to the meeting
    guests: list[int]  # sources combined into this one's post, oldest first
    files: tuple[int, ...] | None = None  # attachment ids uploaded with the first part (None: not known)


@dataclass(frozen=True)
class Shown:
    """Where a message shows: the original in its channel, or the first part of a copy."""

    channel_id: int
    message_id: int
    language: str  # the channel's


@dataclass(frozen=True)
class Family:
    """A message and its copies in the other language channels."""

    source: Source
    members: list[Shown]  # the original first


@dataclass(frozen=True)
class ThreadGroup:
    id: int
    parent_id: int  # the meeting
    name: str


@dataclass(frozen=True)
class Reaction:
    channel_id: int
    message_id: int
    emoji: str
    user_id: int  # 0: Concord's own, mirrored


@dataclass(frozen=True)
class Placement:
    """Where a first post lands in its channel."""

    before: int | None  # the last part posted for the previous message from the same source channel
    later: bool  # a copy of a later message from that channel is already there: this one is late
    newest: int | None  # the newest relayed message in the channel (a lost post is looked for after it)
    linked: bool


@dataclass(frozen=True)
class Settled:
    """A copy's new state after a post or edit: what `Store.settle` records."""

    source_id: int
    state: str
    version: int
    body: str | None
    host_id: int | None = None
    next_attempt_at: float = 0.0
    files: tuple[int, ...] | None = None  # attachment ids the first part now carries (None: unchanged)


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
        self._write_lock = asyncio.Lock()
        self._writer: asyncio.Task | None = None

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
        (tables,) = await self._one("SELECT count(*) FROM sqlite_master")
        _check_schema(await self.schema_version(), tables)

    async def close(self) -> None:
        """Close the connection and stop aiosqlite's thread; safe to call twice."""
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[aiosqlite.Row]:
        """A query's rows in one round trip to aiosqlite's thread (its cursor is opened and closed there): the
        relay's hot path reads a dozen times per message and channel, and each round trip waits its turn."""
        return list(await self.db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> aiosqlite.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> Done:
        """Run one statement and close its cursor in aiosqlite's thread.

        A cursor left to the garbage collector is finalized on the event-loop thread, resetting its SQLite
        statement while aiosqlite's thread may be using it: "bad parameter or other API misuse"."""
        async with self.db.execute(sql, params) as cur:
            return Done(cur.rowcount, cur.lastrowid)

    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement whose row count is not needed, in one round trip (its cursor closed in the thread)."""
        await self.db.execute_fetchall(sql, params)

    async def _run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run a statement for each row (one round trip for a single row, the relay's usual case)."""
        if isinstance(rows, list) and len(rows) == 1:
            await self._exec(sql, rows[0])
            return
        async with self.db.executemany(sql, rows):
            pass

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[bool]:
        """This task's turn to write on the shared connection; True when it already has it (nested use)."""
        task = asyncio.current_task()
        if task is not None and self._writer is task:
            yield True
            return
        async with self._write_lock:
            self._writer = task
            try:
                yield False
            finally:
                self._writer = None

    @contextlib.asynccontextmanager
    async def transaction(self, *, immediate: bool = True) -> AsyncIterator[None]:
        """One write transaction, all or nothing: every multi-statement write in this module goes through it
        (a single write goes through `_atomic`).

        The asyncio lock keeps other coroutines' statements and commits out of it (they share this one
        connection); BEGIN IMMEDIATE keeps other processes out. `immediate=False` saves that round trip on the
        hot path when the first statement is a write (which takes SQLite's write lock at once anyway). Nested
        use joins the outer transaction."""
        async with self._turn() as joined:
            if joined:
                yield
                return
            if self.db.in_transaction:  # a write outside transaction() left one open: end it first
                await self.db.commit()
            if immediate:
                await self._exec("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.db.rollback()
                raise
            await self.db.commit()

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One write statement, atomic by itself, in one round trip."""
        await self._atomic(functools.partial(_execute, sql, params))

    async def _atomic(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` (the statements of one write, on the sqlite3 connection) and commit, in a single round trip
        to aiosqlite's thread: the relay writes several times per message and channel, and every round trip waits
        for that thread and for the event loop. Inside a transaction() of the same task it joins that one.

        aiosqlite has no public way to run a function on its thread; `Connection._execute` is what its public
        methods do it with (0.20 to 0.22). `work` must close its cursors (there) and return plain values."""
        async with self._turn() as joined:
            if joined:
                return await self.db._execute(lambda: work(self.db._conn))
            return await self.db._execute(_committed, self.db, work)

    async def schema_version(self) -> int:
        row = await self._one("PRAGMA user_version")
        return int(row[0])

    async def migrate(self) -> None:
        """Apply pending migrations, each in its own transaction together with its version bump."""
        current = await self.schema_version()
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            await self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")

    # --- meetings and channels -------------------------------------------------------------------

    async def create_meeting(self, guild_id: int, name: str) -> Meeting:
        await self._write(
            "INSERT INTO meetings (guild_id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (guild_id, name)"
            # linking revives a meeting linked by hand; one `/meeting create` made keeps its state
            " DO UPDATE SET state = CASE WHEN managed THEN state ELSE 'ready' END,"
            " active = CASE WHEN managed THEN active ELSE 1 END",
            (guild_id, name, time.time()),
        )
        meeting = await self.meeting_by_name(guild_id, name)
        assert meeting is not None
        return meeting

    async def meeting_by_name(self, guild_id: int, name: str) -> Meeting | None:
        row = await self._one("SELECT * FROM meetings WHERE guild_id = ? AND name = ?", (guild_id, name))
        return _meeting(row) if row else None

    async def meetings(self, guild_id: int) -> list[Meeting]:
        rows = await self._all(
            "SELECT * FROM meetings WHERE guild_id = ? AND parent_id IS NULL ORDER BY name", (guild_id,)
        )
        return [_meeting(r) for r in rows]

    async def link_channel(self, channel_id: int, meeting_id: int, language: str) -> None:
        """Bind a channel to a meeting language; a channel belongs to one meeting, a language to one channel.

        A newly linked channel is caught up from now on, not from its past."""
        async with self.transaction():
            rows = await self._all(
                "SELECT channel_id FROM channels WHERE meeting_id = ? AND language = ? AND channel_id != ?",
                (meeting_id, language, channel_id),
            )
            displaced = [r[0] for r in rows]
            for other in displaced:
                await self.unlink_channel(other)
            await self._exec(
                "INSERT INTO channels (channel_id, meeting_id, language) VALUES (?, ?, ?) ON CONFLICT (channel_id)"
                " DO UPDATE SET meeting_id = excluded.meeting_id, language = excluded.language",
                (channel_id, meeting_id, language),
            )
            await self._exec(
                "INSERT OR IGNORE INTO channel_cursors (channel_id, last_message_id) VALUES (?, ?)",
                (channel_id, time_snowflake()),
            )

    async def unlink_channel(self, channel_id: int) -> bool:
        """Stop relaying a channel: posts and edits still owed to it fail (deletes of its copies still go)."""
        async with self.transaction():
            cur = await self._run("DELETE FROM channels WHERE channel_id = ?", (channel_id,))
            await self._exec("DELETE FROM channel_cursors WHERE channel_id = ?", (channel_id,))
            await self._fail_owed(channel_id, "the channel was unlinked")
        return cur.rowcount > 0

    async def channel(self, channel_id: int) -> Channel | None:
        row = await self._one(
            "SELECT c.channel_id, c.meeting_id, c.language FROM channels c "
            "JOIN meetings m ON m.id = c.meeting_id WHERE c.channel_id = ? AND m.active = 1",
            (channel_id,),
        )
        return Channel(*row) if row else None

    async def linked_channels(self) -> list[Channel]:
        """Every channel linked to an active meeting."""
        rows = await self._all(
            "SELECT c.channel_id, c.meeting_id, c.language FROM channels c JOIN meetings m ON m.id = c.meeting_id"
            " WHERE m.active = 1 ORDER BY c.channel_id"
        )
        return [Channel(*r) for r in rows]

    async def meeting_channels(self, meeting_id: int) -> list[Channel]:
        rows = await self._all(
            "SELECT channel_id, meeting_id, language FROM channels WHERE meeting_id = ? ORDER BY channel_id",
            (meeting_id,),
        )
        return [Channel(*r) for r in rows]

    # --- sources and outbox ----------------------------------------------------------------------

    async def add_source(self, source: Source, targets: Iterable[Channel]) -> bool:
        """Record a message, one pending outbox row per target and the channel's cursor, in one transaction.

        False when the message was already recorded (a catch-up and a live event may both bring it)."""
        now = time.time()
        row = (
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
            files_json(source.files),
        )
        outbox = [(source.message_id, t.channel_id, t.language, now) for t in targets]

        def work(db: sqlite3.Connection) -> bool:
            inserted = _execute(
                "INSERT OR IGNORE INTO sources (message_id, meeting_id, channel_id, language, author_name,"
                " avatar_url, content, links, reply_to, created_at, files)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
                db,
            )
            if not inserted:
                return False
            db.executemany(
                "INSERT OR IGNORE INTO outbox (source_id, channel_id, language, updated_at) VALUES (?, ?, ?, ?)",
                outbox,
            ).close()
            _execute(
                "INSERT INTO channel_cursors (channel_id, last_message_id) VALUES (?, ?) ON CONFLICT (channel_id)"
                " DO UPDATE SET last_message_id = MAX(last_message_id, excluded.last_message_id)",
                (source.channel_id, source.message_id),
                db,
            )
            return True

        return await self._atomic(work)

    async def cursor(self, channel_id: int) -> int | None:
        """The last source message handled in a linked channel (or when it was linked); catch-up starts after."""
        row = await self._one("SELECT last_message_id FROM channel_cursors WHERE channel_id = ?", (channel_id,))
        return int(row[0]) if row else None

    async def source(self, message_id: int) -> Source | None:
        row = await self._one("SELECT * FROM sources WHERE message_id = ?", (message_id,))
        return _source(row) if row else None

    async def channel_sources(self, channel_id: int, after_id: int) -> list[Source]:
        """Messages recorded from a channel after `after_id`, oldest first (catch-up compares them with history)."""
        rows = await self._all(
            "SELECT * FROM sources WHERE channel_id = ? AND message_id > ? ORDER BY message_id", (channel_id, after_id)
        )
        return [_source(r) for r in rows]

    async def edit_source(
        self,
        message_id: int,
        content: str,
        *,
        files: Sequence[Attachment] | None = None,
        language: str | None = None,
    ) -> int | None:
        """Store new content (and attachments, and the language it is written in, when given) and owe every copy
        an edit, in one transaction; returns the new version, or None when the message is unknown, deleted or
        unchanged."""
        attached = files_json(files) if files is not None else None
        async with self.transaction():
            cur = await self._run(
                "UPDATE sources SET content = ?, files = COALESCE(?, files), language = COALESCE(?, language),"
                " version = version + 1 WHERE message_id = ? AND deleted = 0"
                " AND (content != ? OR files != COALESCE(?, files))",
                (content, attached, language, message_id, content, attached),
            )
            if cur.rowcount == 0:
                return None
            await self._owe(message_id, "state IN ('delivered', 'untranslated', 'corrected', 'pending')")
            row = await self._one("SELECT version FROM sources WHERE message_id = ?", (message_id,))
        return int(row[0])

    async def delete_source(self, message_id: int) -> bool:
        """Mark a message deleted and owe every copy a delete, in one transaction."""
        async with self.transaction():
            cur = await self._run("UPDATE sources SET deleted = 1 WHERE message_id = ? AND deleted = 0", (message_id,))
            if cur.rowcount == 0:
                return False
            await self._owe(message_id, "state NOT IN ('deleted', 'posting')")
        return True

    async def _owe(self, message_id: int, which: str) -> None:
        """Owe the copies of a message in state `which` work again (an edit or a delete), due now. A `posting`
        copy keeps its state: its post is looked up first, the new text follows."""
        await self._exec(
            f"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = 0, updated_at = ?"
            f" WHERE source_id = ? AND {which}",
            (time.time(), message_id),
        )

    async def outbox(self, source_id: int) -> list[OutboxRow]:
        rows = await self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE source_id = ? ORDER BY channel_id", (source_id,)
        )
        return [OutboxRow(*r) for r in rows]

    async def outbox_in_state(self, *states: str) -> list[OutboxRow]:
        marks = ",".join("?" * len(states))
        rows = await self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE state IN ({marks}) ORDER BY source_id, channel_id",
            states,
        )
        return [OutboxRow(*r) for r in rows]

    async def due(self, now: float, *, untranslated: bool = True) -> list[OutboxRow]:
        """Rows with work to do whose next attempt is due, oldest source first: posts, edits and deletes owed
        (pending, posting) and, with `untranslated`, originals waiting for their translation."""
        states = ("pending", "posting", "untranslated") if untranslated else ("pending", "posting")
        marks = ",".join("?" * len(states))
        rows = await self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE state IN ({marks}) AND next_attempt_at <= ?"
            " ORDER BY source_id, channel_id",
            (*states, now),
        )
        return [OutboxRow(*r) for r in rows]

    async def set_outbox(
        self,
        source_id: int,
        channel_id: int,
        state: str,
        version: int | None = None,
        error: str | None = None,
    ) -> None:
        await self._write(
            "UPDATE outbox SET state = ?, version = COALESCE(?, version), last_error = ?, updated_at = ?,"
            " attempts = attempts + (CASE WHEN ? IS NULL THEN 0 ELSE 1 END)"
            " WHERE source_id = ? AND channel_id = ?",
            (state, version, error, time.time(), error, source_id, channel_id),
        )

    async def begin_post(self, source_id: int, channel_id: int, body: str, after: int | None) -> None:
        """A post is about to be made: remember its exact text and where it will appear, so that a restart can
        find it in the channel instead of posting it twice."""
        await self._write(
            "UPDATE outbox SET state = 'posting', body = ?, posted_after = ?, updated_at = ?"
            " WHERE source_id = ? AND channel_id = ?",
            (body, after, time.time(), source_id, channel_id),
        )

    async def retry_later(
        self, source_id: int, channel_id: int, error: str, at: float, *, state: str | None = None
    ) -> None:
        """Count a failed attempt and when to try again (the state stays unless given)."""
        await self._write(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
            " state = COALESCE(?, state), updated_at = ? WHERE source_id = ? AND channel_id = ?",
            (error[:500], at, state, time.time(), source_id, channel_id),
        )

    async def fail(self, source_id: int, channel_id: int, error: str) -> None:
        await self._write(
            "UPDATE outbox SET state = 'failed', last_error = ?, attempts = attempts + 1, updated_at = ?"
            " WHERE source_id = ? AND channel_id = ?",
            (error[:500], time.time(), source_id, channel_id),
        )

    async def fail_channel(self, channel_id: int, error: str) -> int:
        """Every post, edit and delete still owed to a channel that is gone fails; returns how many."""
        async with self.transaction():
            cur = await self._run(
                "UPDATE outbox SET state = 'failed', last_error = ?, updated_at = ?"
                " WHERE channel_id = ? AND state IN ('pending', 'posting', 'untranslated')",
                (error, time.time(), channel_id),
            )
        return cur.rowcount

    async def _fail_owed(self, channel_id: int, error: str) -> None:
        """Posts and edits owed to an unlinked channel fail; deletes of copies already there still go."""
        await self._exec(
            "UPDATE outbox SET state = 'failed', last_error = ?, updated_at = ? WHERE channel_id = ?"
            " AND state IN ('pending', 'posting', 'untranslated')"
            " AND source_id IN (SELECT message_id FROM sources WHERE deleted = 0)",
            (error, time.time(), channel_id),
        )

    # --- message map -----------------------------------------------------------------------------

    async def delivery(self, source_id: int, channel_id: int) -> Delivery | None:
        """Everything a delivery must check, in one query (the relay's hot path: one round trip, not three)."""
        row = await self._one(
            "SELECT s.*, o.language AS target_language, o.state, o.version AS shown_version, o.attempts, o.body,"
            " o.posted_after, o.host_id, o.files AS shown_files,"
            " (SELECT group_concat(relayed_id) FROM (SELECT relayed_id FROM message_map"
            "   WHERE source_id = s.message_id AND channel_id = o.channel_id ORDER BY part)) AS part_ids,"
            " (SELECT group_concat(source_id) FROM (SELECT source_id FROM outbox"
            "   WHERE host_id = s.message_id AND channel_id = o.channel_id ORDER BY source_id)) AS guest_ids,"
            " EXISTS (SELECT 1 FROM channels c WHERE c.channel_id = o.channel_id AND c.meeting_id = s.meeting_id)"
            "   AS linked"
            " FROM sources s JOIN outbox o ON o.source_id = s.message_id"
            " WHERE s.message_id = ? AND o.channel_id = ?",
            (source_id, channel_id),
        )
        if row is None:
            return None
        parts = [int(p) for p in row["part_ids"].split(",")] if row["part_ids"] else []
        guests = [int(g) for g in row["guest_ids"].split(",")] if row["guest_ids"] else []
        return Delivery(
            source=_source(row),
            channel_id=channel_id,
            language=row["target_language"],
            state=row["state"],
            version=row["shown_version"],
            attempts=row["attempts"],
            body=row["body"],
            posted_after=row["posted_after"],
            host_id=row["host_id"],
            parts=parts,
            linked=bool(row["linked"]),
            guests=guests,
            files=tuple(json.loads(row["shown_files"])) if row["shown_files"] is not None else None,
        )

    async def settle(
        self, channel_id: int, rows: Sequence[Settled], new_parts: Iterable[tuple[int, int, int]] = ()
    ) -> None:
        """Record what a channel now shows, in one transaction: the state, version and body of each copy
        (several when messages were combined into one post) and the last (source, part, relayed id) posted."""
        at, channel = time.time(), channel_id
        parts = [(source_id, channel_id, part, relayed_id) for source_id, part, relayed_id in new_parts]
        states = [
            (r.state, r.version, r.body, r.host_id, r.next_attempt_at, _ids(r.files), at, r.source_id, channel)
            for r in rows
        ]

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT OR REPLACE INTO message_map (source_id, channel_id, part, relayed_id) VALUES (?, ?, ?, ?)",
                parts,
            ).close()
            db.executemany(
                "UPDATE outbox SET state = ?, version = ?, body = ?, host_id = ?, next_attempt_at = ?, attempts = 0,"
                " last_error = NULL, posted_after = NULL, files = COALESCE(?, files), updated_at = ?"
                " WHERE source_id = ? AND channel_id = ?",
                states,
            ).close()

        await self._atomic(work)

    async def add_part(self, source_id: int, channel_id: int, part: int, relayed_id: int) -> None:
        await self._write(
            "INSERT OR REPLACE INTO message_map (source_id, channel_id, part, relayed_id) VALUES (?, ?, ?, ?)",
            (source_id, channel_id, part, relayed_id),
        )

    async def remove_part(self, relayed_id: int) -> None:
        await self._write("DELETE FROM message_map WHERE relayed_id = ?", (relayed_id,))

    async def parts(self, source_id: int, channel_id: int) -> list[int]:
        """Relayed message ids of a source in one channel, in part order."""
        rows = await self._all(
            "SELECT relayed_id FROM message_map WHERE source_id = ? AND channel_id = ? ORDER BY part",
            (source_id, channel_id),
        )
        return [r[0] for r in rows]

    async def placement(self, source: Source, channel_id: int) -> Placement:
        """Where a first post of `source` lands in `channel_id`, in one query (see Placement)."""
        row = await self._one(
            "SELECT (SELECT m.relayed_id FROM message_map m JOIN sources s ON s.message_id = m.source_id"
            "   WHERE m.channel_id = :c AND s.channel_id = :sc AND s.message_id < :id"
            "   ORDER BY s.message_id DESC, m.part DESC LIMIT 1),"
            " EXISTS (SELECT 1 FROM message_map m JOIN sources s ON s.message_id = m.source_id"
            "   WHERE m.channel_id = :c AND s.channel_id = :sc AND s.message_id > :id),"
            " (SELECT MAX(relayed_id) FROM message_map WHERE channel_id = :c),"
            " EXISTS (SELECT 1 FROM channels WHERE channel_id = :c AND meeting_id = :meeting)",
            {"c": channel_id, "sc": source.channel_id, "id": source.message_id, "meeting": source.meeting_id},
        )
        return Placement(row[0], bool(row[1]), row[2], bool(row[3]))

    async def relayed(self, relayed_id: int) -> Relayed | None:
        """A relayed message with its source, channel, part and language; None if it is not ours."""
        row = await self._one(
            "SELECT m.relayed_id, m.source_id, m.channel_id, m.part, o.language FROM message_map m"
            " JOIN outbox o ON o.source_id = m.source_id AND o.channel_id = m.channel_id WHERE m.relayed_id = ?",
            (relayed_id,),
        )
        return Relayed(*row) if row else None

    # --- corrections -----------------------------------------------------------------------------

    async def record_correction(self, correction: Correction) -> int:
        """Store a correction and mark its outbox row 'corrected' at that source version, in one transaction."""
        c = correction
        async with self.transaction():
            cur = await self._run(
                "INSERT INTO corrections (relayed_id, source_id, channel_id, language, source_version, original,"
                " corrected, by, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (c.relayed_id, c.source_id, c.channel_id, c.language, c.source_version, c.original, c.corrected,
                 c.by, c.at),
            )  # fmt: skip
            await self._exec(  # body NULL: the next edit of the source always replaces the volunteer's text
                "UPDATE outbox SET state = 'corrected', version = ?, body = NULL, last_error = NULL, updated_at = ?"
                " WHERE source_id = ? AND channel_id = ?",
                (c.source_version, c.at, c.source_id, c.channel_id),
            )
        return int(cur.lastrowid or 0)

    async def corrections(self, *, relayed_id: int | None = None, source_id: int | None = None) -> list[Correction]:
        """Corrections of one relayed message or of every copy of a source, oldest first."""
        sql, params = "SELECT * FROM corrections WHERE 1 = 1", []
        if relayed_id is not None:
            sql, params = sql + " AND relayed_id = ?", [*params, relayed_id]
        if source_id is not None:
            sql, params = sql + " AND source_id = ?", [*params, source_id]
        rows = await self._all(sql + " ORDER BY id", params)
        return [Correction(**dict(r)) for r in rows]  # the columns are the fields

    async def purge(self, older_than_days: float) -> int:
        """Forget meeting text older than the retention period (messages, their maps, corrections, cache).

        Returns how many messages were forgotten. Glossaries and their history are kept."""
        cutoff = time.time() - older_than_days * 86400
        async with self.transaction():
            cur = await self._run("DELETE FROM sources WHERE created_at < ?", (cutoff,))
            await self._exec("DELETE FROM translation_cache WHERE created_at < ?", (cutoff,))
        return cur.rowcount

    # --- translation cache -----------------------------------------------------------------------

    async def cached_translations(self, keys: Sequence[str]) -> dict[str, tuple[str, str, int]]:
        """key -> (text, backend, tier) for the keys that are cached."""
        marks = ",".join("?" * len(keys))
        sql = f"SELECT key, text, backend, tier FROM translation_cache WHERE key IN ({marks})"
        rows = await self._all(sql, tuple(keys))
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    async def cache_translation(self, key: str, text: str, backend: str, tier: int = 0) -> None:
        await self._write(
            "INSERT OR REPLACE INTO translation_cache (key, text, backend, tier, created_at) VALUES (?, ?, ?, ?, ?)",
            (key, text, backend, tier, time.time()),
        )

    async def meeting_guild(self, meeting_id: int) -> int | None:
        row = await self._one("SELECT guild_id FROM meetings WHERE id = ?", (meeting_id,))
        return int(row[0]) if row else None

    # --- glossary --------------------------------------------------------------------------------

    async def glossary_version(self) -> int:
        """The id of the latest glossary change (0: never changed). Grows with every write."""
        row = await self._one("SELECT COALESCE(MAX(id), 0) FROM glossary_audit")
        return int(row[0])

    async def glossary_concepts(self) -> list[Concept]:
        rows = await self._all("SELECT * FROM glossary_concepts ORDER BY key, guild_id")
        return [_concept(r) for r in rows]

    async def glossary_renderings(self) -> list[Rendering]:
        rows = await self._all("SELECT * FROM glossary_renderings ORDER BY concept_key, language, guild_id")
        return [_rendering(r) for r in rows]

    async def apply_glossary(self, changes: Sequence[Change], by: str, *, unchanged_since: int | None = None) -> int:
        """Write glossary changes and their audit rows in one transaction; returns the new version.

        Each row (concept, or rendering per language and server) appears at most once in `changes`.
        `unchanged_since`: a version the writer read; when a changed rendering (its server's row or the shared
        one) was written after it, nothing is written and Stale names that change (two reviewers, one draft).

        The rows (and the audit rows' JSON) are made one at a time as SQLite takes them: an import of 60,000
        renderings never holds them all a second time, as tuples and JSON, next to the changes."""
        now = time.time()

        def stamped(change: Change) -> Concept | Rendering | None:
            return replace(change.after, updated_by=by, updated_at=now) if change.after is not None else None

        def removed(kind: type) -> Iterator[tuple]:
            for change in changes:
                if change.after is None and isinstance(change.before, kind):
                    key, language, guild_id = _ident(change.before)
                    yield (key, guild_id) if kind is Concept else (key, language, guild_id)

        def written(kind: type) -> Iterator[tuple]:
            for change in changes:
                if isinstance(change.after, kind):
                    yield _values(replace(change.after, updated_by=by, updated_at=now))

        def audit() -> Iterator[tuple]:
            for change in changes:
                after = stamped(change)
                row = after or change.before
                assert row is not None
                yield (now, by, change.action, *_ident(row), _json(change.before), _json(after))

        async with self.transaction():  # all or nothing, audit rows (the version) included
            if unchanged_since is not None:
                for change in changes:
                    row = change.after or change.before
                    if isinstance(row, Rendering):
                        newer = await self._glossary_change_since(row, unchanged_since)
                        if newer is not None:
                            raise Stale(newer)
            await self._run_many(
                "DELETE FROM glossary_renderings WHERE concept_key = ? AND language = ? AND guild_id = ?",
                removed(Rendering),
            )
            await self._run_many("DELETE FROM glossary_concepts WHERE key = ? AND guild_id = ?", removed(Concept))
            await self._run_many(
                "INSERT OR REPLACE INTO glossary_concepts (key, guild_id, term, type, policy, expansion,"
                " en_variants, definition, exceptions, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                written(Concept),
            )
            await self._run_many(
                "INSERT OR REPLACE INTO glossary_renderings (concept_key, language, guild_id, preferred, variants,"
                " forbidden, case_sensitive, status, source, notes, case_policy, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                written(Rendering),
            )
            await self._run_many(
                "INSERT INTO glossary_audit (at, by, action, concept_key, language, guild_id, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                audit(),
            )
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
        rows = await self._all(sql + " ORDER BY id DESC", params)
        return [_audit(r) for r in rows]

    async def _glossary_change_since(self, row: Rendering, version: int) -> AuditEntry | None:
        """The latest change after `version` to this rendering in its server's view (its row or the shared one)."""
        found = await self._one(
            "SELECT * FROM glossary_audit WHERE concept_key = ? AND language = ? AND guild_id IN (0, ?) AND id > ?"
            " ORDER BY id DESC LIMIT 1",
            (row.concept_key, row.language, row.guild_id, version),
        )
        return _audit(found) if found else None

    async def glossary_audit_entry(self, audit_id: int) -> AuditEntry | None:
        row = await self._one("SELECT * FROM glossary_audit WHERE id = ?", (audit_id,))
        return _audit(row) if row else None

    async def glossary_session(self, meeting_id: int) -> tuple[float, float] | None:
        """(started_at, last_at) of a meeting's current glossary session, None before its first message."""
        row = await self._one("SELECT started_at, last_at FROM glossary_sessions WHERE meeting_id = ?", (meeting_id,))
        return (row[0], row[1]) if row else None

    async def save_glossary_session(self, meeting_id: int, started_at: float, last_at: float) -> None:
        await self._write(
            "INSERT OR REPLACE INTO glossary_sessions (meeting_id, started_at, last_at) VALUES (?, ?, ?)",
            (meeting_id, started_at, last_at),
        )

    async def claim_glossary_mention(
        self, meeting_id: int, language: str, concept_key: str, message_id: int, session_start: float
    ) -> int:
        """The message that introduces (expands) a term in this meeting's session and language: `message_id`
        when no message of the session did yet. One upsert, so two messages at the same moment cannot both win."""
        await self._write(
            "INSERT INTO glossary_mentions (meeting_id, language, concept_key, message_id, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (meeting_id, language, concept_key) DO UPDATE SET message_id = excluded.message_id,"
            " at = excluded.at WHERE glossary_mentions.at < ?",
            (meeting_id, language, concept_key, message_id, time.time(), session_start),
        )
        row = await self._one(
            "SELECT message_id FROM glossary_mentions WHERE meeting_id = ? AND language = ? AND concept_key = ?",
            (meeting_id, language, concept_key),
        )
        return int(row[0]) if row else message_id

    # --- conversations: message families, reactions, thread groups, members' languages -------------

    async def family(self, message_id: int) -> Family | None:
        """The original a message stands for (itself, or the source of a relayed copy) and where it shows: the
        original and the first part of each copy still there. None for a message Concord does not know."""
        copy = await self.relayed(message_id)
        source = await self.source(copy.source_id if copy else message_id)
        if source is None or source.deleted:
            return None
        (language,) = await self._one(
            "SELECT COALESCE((SELECT language FROM channels WHERE channel_id = :c), :l)",
            {"c": source.channel_id, "l": source.language},
        )
        members = [Shown(source.channel_id, source.message_id, language)]
        rows = await self._all(
            "SELECT o.channel_id, m.relayed_id, o.language FROM outbox o JOIN message_map m"
            " ON m.source_id = o.source_id AND m.channel_id = o.channel_id AND m.part = 0"
            " WHERE o.source_id = ? AND o.state != 'deleted' ORDER BY o.channel_id",
            (source.message_id,),
        )
        members += [Shown(*r) for r in rows]
        return Family(source, members)

    async def add_reaction(self, source_id: int, channel_id: int, message_id: int, emoji: str, user_id: int) -> None:
        """`user_id` holds `emoji` on a message of the family of `source_id` (0: Concord's mirrored one)."""
        await self._write(
            "INSERT OR IGNORE INTO reactions (source_id, channel_id, message_id, emoji, user_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (source_id, channel_id, message_id, emoji, user_id),
        )

    async def remove_reaction(self, message_id: int, emoji: str, user_id: int) -> None:
        await self._write(
            "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?", (message_id, emoji, user_id)
        )

    async def reactions(self, source_id: int) -> list[Reaction]:
        """Every reaction held on a message and its copies, by channel."""
        rows = await self._all(
            "SELECT channel_id, message_id, emoji, user_id FROM reactions WHERE source_id = ? ORDER BY rowid",
            (source_id,),
        )
        return [Reaction(*r) for r in rows]

    async def create_thread_group(self, meeting_id: int, name: str) -> int:
        """A meeting for one thread and its counterparts in the other language channels (one thread per
        language, linked like channels); it is active while its meeting is. Returns its id."""
        async with self.transaction():
            await self._exec(
                "INSERT INTO meetings (guild_id, name, created_at, active, parent_id)"
                " SELECT guild_id, ?, ?, active, id FROM meetings WHERE id = ?"
                " ON CONFLICT (guild_id, name) DO NOTHING",
                (name, time.time(), meeting_id),
            )
            row = await self._one(
                "SELECT g.id FROM meetings g JOIN meetings m ON m.guild_id = g.guild_id"
                " WHERE m.id = ? AND g.name = ? AND g.parent_id = m.id",
                (meeting_id, name),
            )
        if row is None:
            raise ValueError(f"meeting {meeting_id} does not exist")
        return int(row[0])

    async def thread_groups(self, since: float) -> list[ThreadGroup]:
        """Active thread groups made after `since` (a timestamp), oldest first."""
        rows = await self._all(
            "SELECT id, parent_id, name FROM meetings WHERE parent_id IS NOT NULL AND active = 1 AND created_at >= ?"
            " ORDER BY id",
            (since,),
        )
        return [ThreadGroup(*r) for r in rows]

    async def set_member_language(self, guild_id: int, user_id: int, code: str) -> None:
        """The language a member reads, as they chose it (a picker, or "Translate to my language")."""
        await self._write(
            "INSERT INTO member_languages (guild_id, user_id, language, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET language = excluded.language,"
            " updated_at = excluded.updated_at",
            (guild_id, user_id, code, time.time()),
        )

    async def member_language(self, guild_id: int, user_id: int) -> str | None:
        row = await self._one(
            "SELECT language FROM member_languages WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return row[0] if row else None

    # --- meetings run from slash commands (bot/meetings.py) --------------------------------------

    async def meeting(self, meeting_id: int) -> Meeting | None:
        row = await self._one("SELECT * FROM meetings WHERE id = ?", (meeting_id,))
        return _meeting(row) if row else None

    async def meeting_of_channel(self, channel_id: int) -> Meeting | None:
        """The meeting a channel belongs to, whatever its state (`channel()` sees relaying meetings only)."""
        row = await self._one(
            "SELECT m.* FROM meetings m JOIN channels c ON c.meeting_id = m.id WHERE c.channel_id = ?", (channel_id,)
        )
        return _meeting(row) if row else None

    async def create_managed_meeting(self, guild_id: int, name: str, *, always_on: bool) -> tuple[Meeting, bool]:
        """A meeting `/meeting create` owns, relaying only while live unless `always_on`; (meeting, made now)."""
        async with self.transaction(immediate=False):
            done = await self._run(
                "INSERT OR IGNORE INTO meetings (guild_id, name, created_at, active, managed, always_on)"
                " VALUES (?, ?, ?, ?, 1, ?)",
                (guild_id, name, time.time(), int(always_on), int(always_on)),
            )
        meeting = await self.meeting_by_name(guild_id, name)
        assert meeting is not None
        return meeting, done.rowcount > 0

    async def delete_meeting(self, meeting_id: int) -> None:
        """Forget a meeting with its channels, messages and picks (a `/meeting create` rolled back)."""
        async with self.transaction():
            rows = await self._all("SELECT channel_id FROM channels WHERE meeting_id = ?", (meeting_id,))
            channels = [r[0] for r in rows]
            await self._run_many("DELETE FROM channel_cursors WHERE channel_id = ?", [(c,) for c in channels])
            await self._exec("DELETE FROM sources WHERE meeting_id = ?", (meeting_id,))
            await self._exec("DELETE FROM glossary_sessions WHERE meeting_id = ?", (meeting_id,))
            await self._exec("DELETE FROM meetings WHERE id = ?", (meeting_id,))

    _MEETING_FIELDS = frozenset(
        {"always_on", "share_transcripts", "category_id", "picker_message_id", "interpreter_role_id"}
    )

    async def update_meeting(self, meeting_id: int, **values: object) -> None:
        """Set a meeting's options and the ids of what was made for it. Changing `always_on` changes whether it
        relays now (see `set_meeting_state`)."""
        unknown = set(values) - self._MEETING_FIELDS
        if unknown:
            raise ValueError(f"not meeting fields: {', '.join(sorted(unknown))}")
        if not values:
            return
        assignments = ", ".join(f"{name} = ?" for name in values)
        params = [int(v) if isinstance(v, bool) else v for v in values.values()]
        async with self.transaction():
            await self._exec(f"UPDATE meetings SET {assignments} WHERE id = ?", (*params, meeting_id))
            await self._exec(
                "UPDATE meetings SET active = (state = 'live' OR (always_on = 1 AND state != 'archived')) WHERE id = ?",
                (meeting_id,),
            )

    async def set_meeting_state(
        self,
        meeting_id: int,
        state: str,
        *,
        started_at: float | None = None,
        ended_at: float | None = None,
        restart_cursors: bool = False,
    ) -> None:
        """Move a meeting to `state` (bot.meetings checks the move) and relay accordingly, in one transaction.

        `started_at` / `ended_at` are set when given (a new session clears `ended_at`). `restart_cursors`: each
        channel's catch-up starts from now, so what was said before the start is never relayed."""
        async with self.transaction():
            await self._exec(
                "UPDATE meetings SET state = ?, active = (? = 'live' OR (always_on = 1 AND ? != 'archived')),"
                " started_at = COALESCE(?, started_at),"
                " ended_at = CASE WHEN ? IS NOT NULL THEN NULL ELSE COALESCE(?, ended_at) END WHERE id = ?",
                (state, state, state, started_at, started_at, ended_at, meeting_id),
            )
            if restart_cursors:
                await self._exec(
                    "UPDATE channel_cursors SET last_message_id = MAX(last_message_id, ?)"
                    " WHERE channel_id IN (SELECT channel_id FROM channels WHERE meeting_id = ?)",
                    (time_snowflake(), meeting_id),
                )

    async def rooms(self, meeting_id: int) -> list[Room]:
        """A meeting's channels with their language roles and welcome messages, the main (English) one first."""
        rows = await self._all(
            "SELECT channel_id, meeting_id, language, role_id, welcome_id FROM channels WHERE meeting_id = ?"
            " ORDER BY language != 'en', channel_id",
            (meeting_id,),
        )
        return [Room(*r) for r in rows]

    async def set_room(self, channel_id: int, *, role_id: int | None, welcome_id: int | None) -> None:
        await self._write(
            "UPDATE channels SET role_id = ?, welcome_id = ? WHERE channel_id = ?", (role_id, welcome_id, channel_id)
        )

    async def record_pick(self, meeting_id: int, user_id: int, language: str) -> None:
        """A member picked a language in a meeting's picker: for attendance, and as the language they read
        (what "Translate to my language" uses)."""
        now = time.time()
        async with self.transaction():
            await self._exec(
                "INSERT INTO meeting_members (meeting_id, user_id, language, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (meeting_id, user_id) DO UPDATE SET language = excluded.language, at = excluded.at",
                (meeting_id, user_id, language, now),
            )
            await self._exec(
                "INSERT INTO member_languages (guild_id, user_id, language, updated_at)"
                " SELECT guild_id, ?, ?, ? FROM meetings WHERE id = ?"
                " ON CONFLICT (guild_id, user_id) DO UPDATE SET language = excluded.language,"
                " updated_at = excluded.updated_at",
                (user_id, language, now, meeting_id),
            )

    async def picks(self, meeting_id: int) -> dict[str, int]:
        """language -> members who picked it (their latest pick) in the meeting's language picker."""
        rows = await self._all(
            "SELECT language, count(*) FROM meeting_members WHERE meeting_id = ? GROUP BY language", (meeting_id,)
        )
        return {r[0]: r[1] for r in rows}

    async def meeting_sources(self, meeting_id: int, since_id: int = 0, until_id: int | None = None) -> list[Source]:
        """The messages of a meeting with ids in [since_id, until_id], not deleted, oldest first."""
        rows = await self._all(
            "SELECT * FROM sources WHERE meeting_id = ? AND message_id >= ? AND message_id <= ? AND deleted = 0"
            " ORDER BY message_id",
            (meeting_id, since_id, until_id if until_id is not None else 2**63 - 1),
        )
        return [_source(r) for r in rows]

    async def copies(self, source_ids: Sequence[int]) -> list[Copy]:
        """How each channel shows these messages: outbox rows, with the corrections of corrected copies."""
        found: list[Copy] = []
        for start in range(0, len(source_ids), 500):  # SQLite's limit on parameters
            chunk = list(source_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                "SELECT o.source_id, o.channel_id, o.language, o.state, o.body, o.host_id,"
                " (SELECT group_concat(corrected, char(10)) FROM (SELECT c.corrected FROM message_map m"
                "   JOIN corrections c ON c.id = (SELECT MAX(id) FROM corrections WHERE relayed_id = m.relayed_id)"
                "   WHERE m.source_id = o.source_id AND m.channel_id = o.channel_id ORDER BY m.part)) AS corrected"
                f" FROM outbox o WHERE o.source_id IN ({marks}) ORDER BY o.source_id, o.channel_id",
                chunk,
            )
            found += [Copy(*r) for r in rows]
        return found

    async def purge_meeting(self, meeting_id: int) -> int:
        """Forget a meeting's text now: its messages with their copies, maps and corrections, its first
        mentions, and translations cached since its first message (the cache is keyed by hashes, so what was
        cached meanwhile goes, whoever it was for). Returns how many messages were forgotten."""
        async with self.transaction():
            first, count = await self._one(
                "SELECT MIN(created_at), count(*) FROM sources WHERE meeting_id = ?", (meeting_id,)
            )
            await self._exec("DELETE FROM sources WHERE meeting_id = ?", (meeting_id,))
            await self._exec("DELETE FROM glossary_mentions WHERE meeting_id = ?", (meeting_id,))
            if first is not None:
                await self._exec("DELETE FROM translation_cache WHERE created_at >= ?", (first,))
        return int(count)


def _meeting(row: aiosqlite.Row) -> Meeting:
    return Meeting(
        id=row["id"], guild_id=row["guild_id"], name=row["name"], active=bool(row["active"]), state=row["state"],
        always_on=bool(row["always_on"]), managed=bool(row["managed"]),
        share_transcripts=bool(row["share_transcripts"]), category_id=row["category_id"],
        picker_message_id=row["picker_message_id"], interpreter_role_id=row["interpreter_role_id"],
        started_at=row["started_at"], ended_at=row["ended_at"],
    )  # fmt: skip


_OUTBOX_COLUMNS = "source_id, channel_id, language, state, version, attempts, last_error, next_attempt_at"


def _source(row: aiosqlite.Row) -> Source:
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
        files_of(row["files"]),
    )


def files_json(files: Iterable[Attachment]) -> str:
    return json.dumps([asdict(f) for f in files], ensure_ascii=False)


def _ids(ids: tuple[int, ...] | None) -> str | None:
    return json.dumps(list(ids)) if ids is not None else None


def files_of(raw: str | None) -> tuple[Attachment, ...]:
    return tuple(Attachment(**f) for f in json.loads(raw or "[]"))


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


def _execute(sql: str, params: Sequence[Any], db: sqlite3.Connection) -> int:
    """On aiosqlite's thread: run one statement, close its cursor there; the number of rows it changed."""
    cursor = db.execute(sql, params)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def _committed(connection: aiosqlite.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """On aiosqlite's thread: `work` as one transaction (see Store._atomic)."""
    db = connection._conn
    if db.in_transaction:  # a write outside transaction() left one open: end it first
        db.commit()
    try:
        result = work(db)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return result


def _json(row: Concept | Rendering | None) -> str | None:
    return json.dumps(asdict(row), ensure_ascii=False) if row is not None else None


def _ident(row: Concept | Rendering) -> tuple[str, str, int]:
    """(concept key, language, server) of a glossary row; a concept's language is ''."""
    if isinstance(row, Concept):
        return (row.key, "", row.guild_id)
    return (row.concept_key, row.language, row.guild_id)


def _values(row: Concept | Rendering) -> tuple:
    """A glossary row's column values, in the order apply_glossary inserts them."""
    if isinstance(row, Concept):
        return (
            row.key, row.guild_id, row.term, row.type, row.policy, row.expansion, "|".join(row.en_variants),
            row.definition, "|".join(row.exceptions), row.updated_by, row.updated_at,
        )  # fmt: skip
    return (
        row.concept_key, row.language, row.guild_id, row.preferred, "|".join(row.variants), "|".join(row.forbidden),
        int(row.case_sensitive), row.status, row.source, row.notes, row.case, row.updated_by, row.updated_at,
    )  # fmt: skip


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
