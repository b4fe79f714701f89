"""`runyard workspace check/backup/restore`, and how the CLI reports a bad database."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runyard._services import close_all
from runyard._store.migrations import HEAD_REVISION
from runyard.cli import app
from runyard.core import Experiment, Run, Workspace
from runyard.exceptions import StoreCorrupt

cli = CliRunner()


@pytest.fixture
def db(ws) -> Path:
    """test-ws with one completed run, its store closed (everything in runyard.db)."""
    run = Experiment(ws, "exp").start_logging(snapshot_directory=None)
    run.log("acc", 0.5)
    run.complete()
    close_all()
    return Path(ws._services.layout.db_path)


def _invoke(*args: str):
    return cli.invoke(app, list(args))


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_check_a_sound_database(db: Path):
    result = _invoke("workspace", "check", "test-ws")
    assert result.exit_code == 0, result.output
    assert f"{db}: ok" in result.stdout and f"schema revision {HEAD_REVISION}" in result.stdout


def test_check_a_damaged_database_exits_1_naming_it(db: Path):
    data = bytearray(db.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)
    db.write_bytes(bytes(data))
    result = _invoke("workspace", "check", "test-ws")
    assert result.exit_code == 1
    assert str(db) in result.stderr and "runyard workspace restore" in result.stderr
    assert db.read_bytes() == bytes(data)


def test_runs_list_on_a_truncated_db_is_one_line_and_debug_shows_the_traceback(db: Path):
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    line = _one_line_error(_invoke("runs", "list", "-w", "test-ws"))
    assert f"The metadata store {db} is truncated" in line
    assert "runyard workspace restore" in line and "--debug" in line
    debug = _invoke("--debug", "runs", "list", "-w", "test-ws")
    assert isinstance(debug.exception, StoreCorrupt)
    assert db.read_bytes() == data[: len(data) // 2]


def test_zero_byte_db_keeps_its_runs_gone_loudly(db: Path):
    db.write_bytes(b"")
    line = _one_line_error(_invoke("runs", "list", "-w", "test-ws"))
    assert "is empty (0 bytes)" in line
    assert db.stat().st_size == 0


WRITER = textwrap.dedent(
    """
    import sys
    from runyard.core import Experiment, Workspace

    run = Experiment(Workspace.get("test-ws"), "busy").start_logging(snapshot_directory=None)
    print(run.id, flush=True)
    for i in range(1_000_000):
        run.log("step", i)
    """
)


def test_backup_while_a_writer_writes_then_restore(db: Path, tmp_path: Path, wait_until):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        run_id = writer.stdout.readline().strip()

        def logged() -> int:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
                return connection.execute("SELECT count(*) FROM metric_points").fetchone()[0]

        wait_until(lambda: logged() > 200, 60, "the writer to log 200 points")
        result = _invoke("workspace", "backup", str(tmp_path / "b.db"), "-w", "test-ws")
        assert result.exit_code == 0, result.output
        wait_until(lambda: logged() > 400, 60, "the writer to go on logging")
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    backup = tmp_path / "b.db"
    with sqlite3.connect(backup) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    result = _invoke("workspace", "restore", str(backup), "-w", "test-ws")
    assert result.exit_code == 0, result.output
    assert "runyard.db.before-restore" in result.stdout
    close_all()
    steps = Run(Experiment(Workspace.get("test-ws"), "busy"), run_id).get_metrics()["step"]
    assert len(steps) > 200
    assert steps == list(range(len(steps)))  # a consistent prefix, nothing half-written
    kept = db.with_name("runyard.db.before-restore")
    with sqlite3.connect(kept) as connection:
        count = connection.execute("SELECT count(*) FROM metric_points").fetchone()[0]
    assert count > len(steps) + 1  # the replaced database holds the later points too


def test_restore_is_refused_while_the_agent_runs(db: Path, tmp_path: Path):
    shutil.copyfile(db, tmp_path / "b.db")
    lock = db.parent / "agent" / "agent.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, str(os.getpid()).encode())
        before = db.read_bytes()
        line = _one_line_error(
            _invoke("workspace", "restore", str(tmp_path / "b.db"), "-w", "test-ws")
        )
    finally:
        os.close(fd)
    assert f"runs (pid {os.getpid()})" in line and "runyard agent stop -w test-ws" in line
    assert db.read_bytes() == before
    assert not db.with_name("runyard.db.before-restore").exists()


def test_restore_checks_the_backup_first(db: Path, tmp_path: Path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(db.read_bytes()[:8192])
    before = db.read_bytes()
    line = _one_line_error(_invoke("workspace", "restore", str(bad), "-w", "test-ws"))
    assert f"The backup {bad} is damaged" in line and "Nothing was changed" in line
    assert db.read_bytes() == before


def test_restore_over_a_damaged_database_keeps_it(db: Path, tmp_path: Path):
    good = db.read_bytes()
    shutil.copyfile(db, tmp_path / "b.db")
    db.write_bytes(b"")
    result = _invoke("workspace", "restore", str(tmp_path / "b.db"), "-w", "test-ws")
    assert result.exit_code == 0, result.output
    assert db.with_name("runyard.db.before-restore").read_bytes() == b""
    assert _invoke("workspace", "check", "test-ws").exit_code == 0
    assert len(db.read_bytes()) == len(good)
    assert "exp" in _invoke("runs", "list", "-w", "test-ws").stdout


def test_check_and_backup_say_postgresql_is_not_supported(ws, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("RUNYARD_STORE_URI", "postgresql://postgres@127.0.0.1:5432/test")
    for args in (["check", "test-ws"], ["backup", str(tmp_path / "b.db"), "-w", "test-ws"]):
        line = _one_line_error(_invoke("workspace", *args))
        assert "not supported for PostgreSQL stores; use pg_dump" in line


def test_read_only_home_lists_runs_and_a_write_says_why(db: Path, runyard_home: Path):
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"`unshare -m` is refused here ({probe.stderr.strip()}): no read-only mount")
    runyard = [sys.executable, "-c", "from runyard.cli import app; app()"]
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && '
        '"$@" runs list -w test-ws && "$@" workspace create other-ws'
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(runyard_home), *runyard],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "exp" in done.stdout and "Completed" in done.stdout, done.stderr
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert line.startswith("Error: Cannot write ") and "Read-only file system" in line
    assert str(runyard_home) in line
