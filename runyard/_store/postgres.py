"""PostgreSQL connection setup (psycopg2). Everything else is SqlStore as on SQLite."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from runyard._store.migrations.upgrade import upgrade_to_head
from runyard._store.sql import SqlStore


def open(uri: str) -> SqlStore:  # noqa: A001 - mirrors sqlite.open
    """A SqlStore on ``postgresql://user@host:port/db``, migrated to head.

    Query parameters go to psycopg2, e.g. ``?options=-csearch_path%3Dmyschema`` to keep
    the tables in one schema.
    """
    url = make_url(uri).set(drivername="postgresql+psycopg2")
    engine = create_engine(url, pool_pre_ping=True)
    store = SqlStore(engine)
    try:
        upgrade_to_head(uri, engine)
    except BaseException:
        store.close()
        raise
    return store
