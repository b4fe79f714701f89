"""A damaged runyard.db is refused, never re-created; a read-only one still reads."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runyard._entities import RunStatus
from runyard._store import open_store
from runyard.exceptions import StoreCorrupt, StoreReadOnly


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A real runyard.db with three runs, closed (everything in the main file)."""
    path = tmp_path / "ws" / "runyard.db"
    store = open_store(f"sqlite:///{path}")
    for i in range(3):
        store.create_run(
            run_id=f"run-{i}", experiment_name="exp", status=RunStatus.COMPLETED, run_type="t"
        )
    store.close()
    assert not path.with_name("runyard.db-wal").exists()
    return path


def _refused(path: Path, *words: str) -> str:
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(StoreCorrupt) as caught:
        store = open_store(f"sqlite:///{path}")
        try:
            store.list_runs()
        finally:
            store.close()
    message = str(caught.value)
    assert str(path) in message
    assert "runyard workspace restore" in message and "runyard workspace check" in message
    for word in words:
        assert word in message
    assert (path.read_bytes() if path.exists() else None) == before
    return message


def test_zero_byte_db_is_refused_not_recreated(db: Path):
    db.write_bytes(b"")
    _refused(db, "is empty (0 bytes)")
    assert db.stat().st_size == 0


def test_db_cut_in_half_is_refused(db: Path):
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    _refused(db, "is truncated", f"the file has {len(data) // 2} bytes")


def test_garbage_db_is_refused(db: Path):
    db.write_bytes(os.urandom(8192))
    _refused(db, "is not a SQLite database")


def test_damaged_pages_behind_a_good_header_are_store_corrupt(db: Path):
    data = bytearray(db.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)
    db.write_bytes(bytes(data))
    _refused(db, "database disk image is malformed")


def test_write_ahead_log_without_its_database_is_refused(db: Path):
    db.with_name("runyard.db-wal").write_bytes(b"x" * 4096)
    db.unlink()
    _refused(db, "is missing while its write-ahead log")
    assert not db.exists()


def test_missing_db_is_created_as_a_new_store(tmp_path: Path):
    path = tmp_path / "new" / "runyard.db"
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.list_runs() == []
    finally:
        store.close()
    assert path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir()] == ["runyard.db"]


READER = textwrap.dedent(
    """
    import sys
    from runyard._store import open_store
    from runyard.exceptions import StoreReadOnly

    store = open_store("sqlite:///" + sys.argv[1])
    print(sorted(r.run_id for r in store.list_runs()))
    try:
        store.create_run(run_id="new", experiment_name="exp", status="Running", run_type="t")
    except StoreReadOnly as exc:
        print("refused:", exc)
    """
)


def _in_read_only_mount(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Runs argv in a private mount namespace where ``folder`` is bind-mounted read-only
    (as root, permissions alone would not stop a write)."""
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"`unshare -m` is refused here ({probe.stderr.strip()}): no read-only mount")
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && "$@"'
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _read_only_read(db: Path) -> str:
    done = _in_read_only_mount(db.parent, sys.executable, "-c", READER, str(db))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_read_only_folder_reads_and_refuses_writes(db: Path):
    before = db.read_bytes()
    out = _read_only_read(db)
    assert "['run-0', 'run-1', 'run-2']" in out
    assert f"refused: Cannot write the metadata store {db}" in out
    assert "read-only file system" in out and "Reads still work" in out
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["runyard.db"]


def test_read_only_folder_reads_what_is_still_in_the_write_ahead_log(db: Path):
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE runs SET run_id = 'run-9' WHERE run_id = 'run-2'")
        writer.commit()
        assert db.with_name("runyard.db-wal").stat().st_size > 0
        out = _read_only_read(db)
    finally:
        writer.close()
    assert "['run-0', 'run-1', 'run-9']" in out
    assert "refused: Cannot write the metadata store" in out


def test_read_only_folder_without_a_database_says_there_is_none(tmp_path: Path):
    folder = tmp_path / "empty"
    folder.mkdir()
    done = _in_read_only_mount(folder, sys.executable, "-c", READER, str(folder / "runyard.db"))
    assert done.returncode == 1
    assert StoreReadOnly.__name__ in done.stderr
    assert "there is no database there to read" in done.stderr
    assert list(folder.iterdir()) == []


def test_a_full_database_raises_disk_full_and_keeps_what_was_stored(db: Path):
    """SQLite's SQLITE_FULL ("database or disk is full"), made real by capping the file's
    pages at what it has (PRAGMA max_page_count), becomes DiskFull naming the file."""
    from sqlalchemy import event

    from runyard._entities import MetricKind, MetricPoint
    from runyard.exceptions import DiskFull

    store = open_store(f"sqlite:///{db}")
    try:
        store.log_metrics("run-0", [MetricPoint("loss", MetricKind.SCALAR, 1.0, 0.0, None, "")])
        engine = store._engine  # the write engine: cap every new connection's file size
        engine.dispose()

        @event.listens_for(engine, "connect")
        def _cap(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

        points = [
            MetricPoint("big", MetricKind.SCALAR, "x" * 1000, float(i), None, "")
            for i in range(2000)
        ]
        with pytest.raises(DiskFull) as caught:
            store.log_metrics("run-0", points, spool_offset=123)
        message = str(caught.value)
        assert "The disk is full" in message and str(db) in message and "free" in message
        assert "RUNYARD_HOME" in message
        # Nothing of the failed batch was kept, everything before it was.
        metrics = store.get_metrics("run-0")
        assert list(metrics) == ["loss"] and metrics["loss"].values == [1.0]
        assert store.get_spool_offset("run-0") == 0
        assert sorted(r.run_id for r in store.list_runs()) == ["run-0", "run-1", "run-2"]
    finally:
        store.close()
