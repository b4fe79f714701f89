"""``DataReference``: v1's legacy reference to a datastore path (azureml.data.data_reference)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runyard.data.datapath import DataPath
from runyard.data.dataset_factory import FileDatasetFactory

if TYPE_CHECKING:
    from runyard.core.datastore import Datastore
    from runyard.data.dataset_consumption_config import DatasetConsumptionConfig


class DataReference(DataPath):
    """What ``datastore.upload`` and ``datastore.path`` return (v1's legacy reference).

    Args:
        datastore: The datastore.
        data_reference_name: The name jobs see it under (default: the datastore's name).
        path_on_datastore: A path relative to the datastore's root.
        mode: 'mount' or 'download'.
        path_on_compute: Where a job should see it (kept for v1 compatibility).
        overwrite: Kept for v1 compatibility.
    """

    def __init__(
        self,
        datastore: Datastore,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        name = data_reference_name or datastore.name
        super().__init__(datastore, path_on_datastore, name)
        self.data_reference_name = name
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    def as_mount(self) -> DataReference:
        """The same reference in mount mode."""
        return self._with_mode("mount")

    def as_download(
        self, path_on_compute: str | None = None, overwrite: bool = False
    ) -> DataReference:
        """The same reference in download mode."""
        ref = self._with_mode("download")
        ref.path_on_compute, ref.overwrite = path_on_compute, overwrite
        return ref

    def _with_mode(self, mode: str) -> DataReference:
        assert self.datastore is not None
        return DataReference(
            self.datastore,
            self.data_reference_name,
            self.path_on_datastore,
            mode,
            self.path_on_compute,
            self.overwrite,
        )

    def _as_dataset_input(self) -> DatasetConsumptionConfig:
        """The same files as a dataset input, which jobs materialize (mount or download)."""
        assert self.datastore is not None
        dataset = FileDatasetFactory.from_files(
            (self.datastore, self.path_on_datastore or ""), validate=False
        )
        named = dataset.as_named_input(self.data_reference_name)
        return named.as_download() if self.mode == "download" else named.as_mount()

    def __str__(self) -> str:
        # v1: the runtime substitutes the mount path for this variable.
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    def __repr__(self) -> str:
        return (
            f"DataReference(datastore={self.datastore.name if self.datastore else None!r}, "
            f"path_on_datastore={self.path_on_datastore!r}, mode={self.mode!r})"
        )
