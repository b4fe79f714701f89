"""SQLite connection setup: WAL, foreign keys, a long busy timeout, BEGIN IMMEDIATE.

The file is checked before SQLAlchemy touches it (sqlite_file.py): a 0-byte, truncated or
garbage ``runyard.db`` is refused, never re-created. A store this process cannot write
(read-only RUNYARD_HOME, folder or file) opens read-only: every read works, every write
raises StoreReadOnly naming the path and why.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from runyard._config import make_private, make_private_dir
from runyard._store import sqlite_file
from runyard._store.migrations import HEAD_REVISION, KNOWN_REVISIONS
from runyard._store.migrations.upgrade import current_revision, upgrade_to_head
from runyard._store.sql import SqlStore
from runyard.exceptions import StoreReadOnly, StoreSchemaUnknown, UnsupportedStoreURI

BUSY_TIMEOUT_S = sqlite_file.BUSY_TIMEOUT_S


def _engine(
    url: str, path: Path, *, immediate: bool, read_only: bool = False, refuse: str | None = None
) -> Engine:
    """``read_only``: opened with a read-only URI, no journal pragmas; ``refuse``: why every
    transaction is refused (the write engine of a read-only store)."""
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module so that we choose its kind below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL survives a killed process; only power loss can drop the
            # last commits, and metrics are in the job's spool until ingested anyway.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    # Writers take the write lock up front: a deferred transaction that reads and then
    # writes can fail with "database is locked" without waiting (no busy handler runs on
    # a lock upgrade), an immediate one waits in busy_timeout like everyone else.
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if refuse is not None:
            raise StoreReadOnly(str(path), refuse)
        connection.exec_driver_sql(begin)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        original = context.original_exception
        if isinstance(original, sqlite3.Error):
            ours = sqlite_file.translate(original, path)
            if ours is not None:
                raise ours from original

    return engine


def _keep_private(db: Path) -> None:
    # 0600 before SQLAlchemy opens it: SQLite creates -wal and -shm with the database
    # file's mode, so all three stay private whatever the umask (older, looser ones too).
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists():
            make_private(path)


def open(uri: str) -> SqlStore:  # noqa: A001 - mirrors postgres.open
    """A SqlStore on the SQLite file named by ``sqlite:///path``, migrated to head (or
    read-only, at head, when this process may not write it)."""
    url = make_url(uri)
    if not url.database or url.database == ":memory:":
        raise UnsupportedStoreURI(uri, supported=("sqlite:////absolute/path/runyard.db",))
    path = Path(url.database).expanduser()
    sqlite_file.refuse_damaged(path)
    problem = sqlite_file.write_problem(path)
    if problem is not None:
        return _open_read_only(path, problem)
    make_private_dir(path.parent)
    if not path.exists():
        sqlite_file.create_new(path)
    _keep_private(path)
    writes = _engine(uri, path, immediate=True)
    reads = _engine(uri, path, immediate=False)
    store = SqlStore(writes, read_engine=reads)
    try:
        upgrade_to_head(uri, writes, reads)
    except BaseException:
        store.close()
        raise
    return store


def _open_read_only(path: Path, problem: str) -> SqlStore:
    if not path.exists():
        raise StoreReadOnly(str(path), f"{problem}, and there is no database there to read")
    url = f"sqlite:///{sqlite_file.read_only_uri(path)}&uri=true"
    writes = _engine(url, path, immediate=False, read_only=True, refuse=problem)
    reads = _engine(url, path, immediate=False, read_only=True)
    store = SqlStore(writes, read_engine=reads)
    try:
        with reads.connect() as connection:
            revision = current_revision(connection)
    except BaseException:
        store.close()
        raise
    if revision != HEAD_REVISION:
        store.close()
        if revision is not None and revision not in KNOWN_REVISIONS:
            raise StoreSchemaUnknown(str(path), revision)
        raise StoreReadOnly(
            str(path),
            f"{problem}, and its schema (revision {revision}) must first be upgraded to "
            f"{HEAD_REVISION}, which writes: open it once with write access",
        )
    return store
