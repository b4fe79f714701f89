"""Alembic migrations of the metadata store, run programmatically (see upgrade.py)."""

# The newest revision in versions/. open_store compares the database's alembic_version
# with this before loading Alembic at all; tests/_store/test_migrations.py checks it.
HEAD_REVISION = "0007"
# Every revision in versions/, oldest first: a database at any other revision was written
# by a newer Runyard, and we refuse it rather than guess.
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
