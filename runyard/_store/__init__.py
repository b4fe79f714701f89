"""Where workspace state is kept: the metadata store and the artifact store.

Import-light on purpose: job processes import ``runyard._store.artifacts`` (and so this
package), and must not pay for SQLAlchemy. The SQL modules load inside open_store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runyard._store.folder import FolderArtifactStore
from runyard.exceptions import UnsupportedStoreURI

if TYPE_CHECKING:
    from runyard._store.artifacts import ArtifactStore
    from runyard._store.base import Store

SUPPORTED_URIS = ("sqlite:////absolute/path/runyard.db", "postgresql://user@host:port/database")


def open_store(uri: str) -> Store:
    """The metadata store at ``uri``, with its schema migrated to the newest revision."""
    if uri.startswith("sqlite:///"):
        # late: SQLAlchemy; job processes import runyard._store (for the artifact store)
        # and must not need it.
        from runyard._store import sqlite

        return sqlite.open(uri)
    if uri.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
        # late: SQLAlchemy and psycopg2, as for sqlite above.
        from runyard._store import postgres

        return postgres.open(uri.replace("postgres://", "postgresql://", 1))
    raise UnsupportedStoreURI(uri, supported=SUPPORTED_URIS)


def open_artifact_store(root: Path) -> ArtifactStore:
    """The folder artifact store rooted at ``root`` (created if missing)."""
    return FolderArtifactStore(root)
