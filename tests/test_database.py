"""The database path a deployer gives: checked before SQLite opens it, one line when it cannot be used, and
parents' messages never left readable by other users of the machine."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from test_cli import cli
from test_config import COMMANDS, no_database_thread_left, one_error_line, snapshot

from bot.__main__ import main
from bot.store import Store, UnusableDatabase


def make(tmp_path: Path, kind: str) -> str:
    """A bad database path of one kind, as a deployer could type it."""
    if kind == "a folder":
        (tmp_path / "data").mkdir()
        return str(tmp_path / "data")
    if kind == "missing folders":
        return str(tmp_path / "no" / "such" / "concord.db")
    if kind == "under a file":
        (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
        return str(tmp_path / "notes.txt" / "concord.db")
    if kind == "not SQLite":
        (tmp_path / "concord.db").write_text("name,term\nIEP,PEI\n", encoding="utf-8")
        return str(tmp_path / "concord.db")
    if kind == "a pipe":
        os.mkfifo(tmp_path / "pipe.db")
        return str(tmp_path / "pipe.db")
    if kind == "another app's":
        with sqlite3.connect(tmp_path / "inventory.db") as other:
            other.execute("CREATE TABLE items (name TEXT)")
        return str(tmp_path / "inventory.db")
    if kind == "a newer Concord's":
        with sqlite3.connect(tmp_path / "concord.db") as newer:
            newer.execute("CREATE TABLE meetings (id INTEGER)")
            newer.execute("PRAGMA user_version = 99")
        return str(tmp_path / "concord.db")
    return kind  # an absolute path as is


BAD_PATHS = {
    "a folder": "is a folder; give a file in it",
    "missing folders": "which does not exist; create that folder first",
    "under a file": "which is a file, not a folder",
    "not SQLite": "is not a SQLite database",
    "/dev/null": "is not a regular file",
    "a pipe": "is not a regular file",
    "/proc/concord.db": "cannot be created: /proc does not accept new files",
    "/sys/concord.db": "cannot be created",
    "another app's": "is another application's SQLite database",
    "a newer Concord's": "was written by a newer Concord (schema 99",
}


@pytest.mark.parametrize("command", ["run", "glossary", "simulate"])
@pytest.mark.parametrize("kind", list(BAD_PATHS))
def test_a_database_path_that_cannot_work_is_one_line_and_changes_nothing(tmp_path, monkeypatch, capsys, kind, command):
    for name in list(os.environ):
        if name.startswith(("CONCORD_", "DISCORD_")):
            monkeypatch.delenv(name)
    path = make(tmp_path, kind)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meeting.txt").write_text("Carmen: Welcome.\n", encoding="utf-8")
    args = COMMANDS[command]
    if command == "simulate":
        args = [*args, "--database", path]
    else:
        monkeypatch.setenv("CONCORD_DATABASE", path)
    before = snapshot(tmp_path)

    assert main(args) == 2

    line = one_error_line(capsys.readouterr().err)
    name = "--database" if command == "simulate" else "CONCORD_DATABASE"
    assert line.startswith(f"error: {name}={path}: ") and BAD_PATHS[kind] in line
    assert snapshot(tmp_path) == before
    assert no_database_thread_left()


@pytest.mark.parametrize("kind", ["/dev/null", "not SQLite"])
def test_the_real_process_exits_at_once_instead_of_hanging(tmp_path, kind):
    path = make(tmp_path, kind)
    result = cli("run", cwd=tmp_path, env={"CONCORD_DATABASE": path, "DISCORD_TOKEN": "a.b.c"})  # 60 s timeout
    assert result.returncode == 2
    assert one_error_line(result.stderr).startswith(f"error: CONCORD_DATABASE={path}: ")


ROOT_WRITES_ANYWHERE = pytest.mark.skipif(
    os.geteuid() == 0, reason="root may write anywhere; /sys/concord.db covers 'not writable' as root"
)


@ROOT_WRITES_ANYWHERE
def test_a_folder_the_user_may_not_write_in_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = cli("glossary", "lint", cwd=tmp_path, env={"CONCORD_DATABASE": str(locked / "concord.db")})
    assert result.returncode == 2
    assert one_error_line(result.stderr) == (
        f"error: CONCORD_DATABASE={locked / 'concord.db'}: cannot be created: this user may not write in {locked}"
    )
    assert list(locked.iterdir()) == []


@ROOT_WRITES_ANYWHERE
def test_a_database_file_the_user_may_not_write_is_named(tmp_path):
    path = tmp_path / "concord.db"
    sqlite3.connect(path).close()
    path.chmod(0o444)
    result = cli("glossary", "lint", cwd=tmp_path, env={"CONCORD_DATABASE": str(path)})
    assert result.returncode == 2
    assert one_error_line(result.stderr).endswith("is not readable and writable by this user")


# --- file modes ----------------------------------------------------------------------------------------


@pytest.fixture
def umask_022():
    """The usual umask, under which SQLite alone would create a 0644 file."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_wal_files_are_owner_only_under_umask_022(tmp_path, umask_022):
    path = tmp_path / "data" / "concord.db"
    store = await Store.open(path)
    try:
        await store.create_meeting(1, "ELAC")  # a write, so the -wal and -shm files exist
        assert (tmp_path / "data" / "concord.db-wal").exists()
        assert mode(tmp_path / "data") == 0o700
        for name in ("concord.db", "concord.db-wal", "concord.db-shm"):
            assert mode(tmp_path / "data" / name) == 0o600, name
    finally:
        await store.close()


def test_the_first_run_creates_the_database_owner_only(tmp_path):
    result = cli("glossary", "lint", cwd=tmp_path, env={"CONCORD_DATABASE": "var/concord.db"})
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "var") == 0o700 and mode(tmp_path / "var" / "concord.db") == 0o600


async def test_an_existing_readable_database_is_made_owner_only_with_a_warning(tmp_path, caplog):
    path = tmp_path / "concord.db"
    await (await Store.open(path)).close()
    path.chmod(0o644)
    store = await Store.open(path)
    await store.close()
    assert mode(path) == 0o600
    assert "was readable by other users; it is now 0600" in caplog.text


async def test_a_failed_open_leaves_nothing_behind_and_no_thread(tmp_path):
    path = tmp_path / "new" / "concord.db"
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "concord.db-wal").mkdir()  # SQLite cannot use it: the open fails after creating
    with pytest.raises(UnusableDatabase) as failed:
        await Store.open(path)
    assert failed.value.path == path
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["concord.db-wal"]
    assert no_database_thread_left()
