"""SQLite connection setup: WAL, foreign keys, a long busy timeout, BEGIN IMMEDIATE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from runyard._store.migrations.upgrade import upgrade_to_head
from runyard._store.sql import SqlStore
from runyard.exceptions import UnsupportedStoreURI

BUSY_TIMEOUT_S = 60


def _engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module so that we choose its kind below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
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
        connection.exec_driver_sql(begin)

    return engine


def open(uri: str) -> SqlStore:  # noqa: A001 - mirrors postgres.open
    """A SqlStore on the SQLite file named by ``sqlite:///path``, migrated to head."""
    url = make_url(uri)
    if not url.database or url.database == ":memory:":
        raise UnsupportedStoreURI(uri, supported=("sqlite:////absolute/path/runyard.db",))
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    writes = _engine(uri, immediate=True)
    reads = _engine(uri, immediate=False)
    store = SqlStore(writes, read_engine=reads)
    try:
        upgrade_to_head(uri, writes, reads)
    except BaseException:
        store.close()
        raise
    return store
