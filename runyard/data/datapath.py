"""``DataPath``: a path on a datastore (v1: azureml.data.datapath)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runyard.core.datastore import Datastore


class DataPath:
    """A path on a datastore, usable in ``Dataset.File.from_files``.

    Args:
        datastore: The datastore.
        path_on_datastore: A folder, file or glob relative to the datastore's root.
        name: Optional name (v1 compatibility).
    """

    def __init__(
        self,
        datastore: Datastore | None = None,
        path_on_datastore: str | None = None,
        name: str | None = None,
    ) -> None:
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore or ""
        self.name = name

    def __repr__(self) -> str:
        store = self.datastore.name if self.datastore is not None else None
        return f"DataPath(datastore={store!r}, path_on_datastore={self.path_on_datastore!r})"
