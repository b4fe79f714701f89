"""``DatasetConsumptionConfig``: how a run reads a dataset (v1: azureml.data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard.data.abstract_dataset import AbstractDataset

MODES = ("direct", "mount", "download")


class DatasetConsumptionConfig:
    """A dataset input of a run, made by ``dataset.as_named_input(name)``.

    In ``arguments`` or ``script_params`` it becomes the argv token
    ``DatasetConsumptionConfig:<name>``, which the job sees as a local folder path.

    Args:
        name: The input's name (also the job's environment variable holding the path).
        dataset: The FileDataset or TabularDataset.
        mode: 'direct', 'mount' or 'download'.
        path_on_compute: Where the job should see the files (None: Runyard chooses).

    Raises:
        UserErrorException: A bad name or mode.
    """

    def __init__(
        self,
        name: str,
        dataset: AbstractDataset,
        mode: str = "direct",
        path_on_compute: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise UserErrorException(
                f"Dataset input name {name!r} must be a valid identifier (letters, digits "
                "and '_', not starting with a digit): the job sees it as an environment "
                "variable. Pass e.g. as_named_input('mnist')."
            )
        if mode not in MODES:
            raise UserErrorException(f"mode={mode!r} is not one of {list(MODES)}.")
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """The input as a read-only folder in the job (FileDataset only)."""
        return self._as("mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """The input as a downloaded copy in the job (FileDataset only)."""
        return self._as("download", path_on_compute)

    def _as(self, mode: str, path_on_compute: str | None) -> DatasetConsumptionConfig:
        # late: cycle DatasetConsumptionConfig -> FileDataset -> AbstractDataset -> here
        from runyard.data.file_dataset import FileDataset

        if not isinstance(self.dataset, FileDataset):
            raise UserErrorException(
                f"as_{mode}() needs a FileDataset; {type(self.dataset).__name__} inputs are "
                f"passed directly: use ds.as_named_input({self.name!r}) as it is."
            )
        return DatasetConsumptionConfig(self.name, self.dataset, mode, path_on_compute)

    def _to_run_data(self) -> dict[str, Any]:
        """The run definition's ``data[name]`` entry."""
        return {
            "mode": self.mode,
            "path_on_compute": self.path_on_compute,
            "dataset": self.dataset._definition(),
            "dataset_id": self.dataset.id,
            "dataset_name": self.dataset.name,
            "dataset_version": self.dataset.version,
        }

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"
