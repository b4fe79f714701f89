"""The behaviour behind the SDK. One Services bundle per workspace.

Import cost matters: ``open_services`` imports the SQL store lazily, so modules that only
need the layout (the job side) never pull in SQLAlchemy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runyard._config import Settings, WorkspaceLayout

if TYPE_CHECKING:
    from runyard._store.artifacts import ArtifactStore
    from runyard._store.base import Store


@dataclass(frozen=True, slots=True)
class Services:
    """What every service function takes first: where the workspace is and its stores."""

    layout: WorkspaceLayout
    settings: Settings
    store: Store
    artifacts: ArtifactStore


_open: dict[tuple[str, str], Services] = {}
_open_lock = threading.Lock()


def open_services(layout: WorkspaceLayout, settings: Settings) -> Services:
    """The workspace's Services, opened once per process (the engine pool is shared)."""
    # late: job side; a job's Workspace imports this package but must not pull SQLAlchemy
    # (runyard._store's SQL modules) until it opens the workspace's stores.
    from runyard._store import open_artifact_store, open_store

    uri = layout.store_uri(settings)
    key = (str(layout.root), uri)
    with _open_lock:
        services = _open.get(key)
        if services is None:
            services = Services(
                layout=layout,
                settings=settings,
                store=open_store(uri),
                artifacts=open_artifact_store(layout.artifacts_dir),
            )
            _open[key] = services
        return services


def close_all() -> None:
    """Closes every opened store (tests, and the agent before it exits)."""
    with _open_lock:
        for services in _open.values():
            services.store.close()
        _open.clear()
