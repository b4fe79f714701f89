"""Alembic environment: runs on the connection that upgrade.py hands over."""

from __future__ import annotations

from alembic import context

from runyard._store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Runyard migrations run through runyard._store.open_store(uri), which passes a "
        "connection; the alembic command line (offline mode) is not supported."
    )
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
