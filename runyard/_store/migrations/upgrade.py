"""Brings a database to the head revision, cheaply when it is already there."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from runyard._store.migrations import HEAD_REVISION, KNOWN_REVISIONS
from runyard.exceptions import StoreSchemaUnknown


def current_revision(connection: Connection) -> str | None:
    """The database's alembic_version, or None for a fresh database."""
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):
        return None


def upgrade_to_head(uri: str, engine: Engine, read_engine: Engine | None = None) -> None:
    """Runs ``alembic upgrade head`` only when the database is behind.

    The check is one plain query so that opening an up-to-date store (the agent and the
    CLI do it often) never imports Alembic. The upgrade runs in one write transaction,
    which on SQLite is BEGIN IMMEDIATE and on PostgreSQL takes an advisory lock,
    so processes opening a fresh database at once upgrade it once.
    """
    with (read_engine or engine).connect() as connection:
        current = current_revision(connection)
    if current == HEAD_REVISION:
        return
    if current is not None and current not in KNOWN_REVISIONS:
        shown = make_url(uri).render_as_string(hide_password=True)
        raise StoreSchemaUnknown(shown, current)
    # late: Alembic, only for a database that is behind (see above); the CLI and the agent
    # open up-to-date stores often.
    from alembic import command, config

    alembic_cfg = config.Config()
    alembic_cfg.set_main_option("script_location", str(Path(__file__).parent))
    alembic_cfg.set_main_option("path_separator", "os")
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7262771)"))
        alembic_cfg.attributes["connection"] = connection
        command.upgrade(alembic_cfg, "head")
