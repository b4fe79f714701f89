"""Per-name write locks for read-then-insert sequences (next version, first default)."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_name(session: Session, topic: str, name: str) -> None:
    """Serialises writers of (topic, name) until the transaction ends.

    SQLite writers already hold the database's write lock (BEGIN IMMEDIATE); PostgreSQL
    takes a transaction-scoped advisory lock, which works before any row exists.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{topic}\0{name}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
