"""``DatasetConsumptionConfig``: how a run reads a dataset (v1: azureml.data)."""

from __future__ import annotations

import itertools
import logging
import re
from typing import TYPE_CHECKING, Any

from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard.data.abstract_dataset import AbstractDataset

log = logging.getLogger(__name__)

MODES = ("direct", "mount", "download")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # v1's: the job sees it as a variable
# v1 warns about these (case-insensitive); the upper-case ones would replace the job's own.
_COMMON_VARIABLES = {"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"}
_RESERVED_PREFIXES = ("AZUREML_", "RUNYARD_")
_unnamed = itertools.count(1)


def check_io_name(name: Any, kind: str, example: str) -> str:
    """A run input's or output's name: the job's environment variable holding its path."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserErrorException(
            f"{kind.capitalize()} name {name!r} must be letters, digits and '_', not starting "
            f"with a digit: the job sees it as an environment variable. Pass e.g. {example}."
        )
    if name.upper().startswith(_RESERVED_PREFIXES) or (
        name.isupper() and name.lower() in _COMMON_VARIABLES
    ):
        raise UserErrorException(
            f"{kind.capitalize()} name {name!r} would replace the job's own environment "
            f"variable {name}; choose another name, e.g. {example}."
        )
    if name.lower() in _COMMON_VARIABLES:
        log.warning(
            '%s name "%s" has the potential to collide with common environment variable '
            "names and can lead to unexpected behavior. Please consider using a different "
            "name.",
            kind.capitalize(),
            name,
        )
    return name


def auto_input_name(dataset: AbstractDataset) -> str:
    """The name ``FileDataset.as_mount()`` / ``as_download()`` give their input: the
    registered dataset's name made a valid variable name, else input_1, input_2, ..."""
    if dataset.name:
        name = re.sub(r"[^A-Za-z0-9_]", "_", dataset.name)
        name = name if _NAME.match(name) else f"input_{name}"
        clashes = name.upper().startswith(_RESERVED_PREFIXES) or name.lower() in _COMMON_VARIABLES
        if not clashes:
            return name
    return f"input_{next(_unnamed)}"


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
        check_io_name(name, "dataset input", "as_named_input('mnist')")
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
