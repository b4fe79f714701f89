"""``OutputFileDatasetConfig``: a folder a run writes, kept in a datastore when the run ends
and optionally registered as a dataset (v1: azureml.data.output_dataset_config).

In ``arguments`` it becomes a local folder under the job's working directory (``source``
when given, else ``output_datasets/<name>``); the job also finds it in
``run.output_datasets[name]`` and the environment variable ``<name>``. When the run ends,
the agent copies the folder's files to ``destination`` (default: the workspace's default
datastore at ``dataset/{run-id}/{output-name}``) and registers the dataset if
``register_on_complete`` was called.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from runyard.data import _transforms
from runyard.data._output_paths import checked_source, destination_entry
from runyard.data.dataset_consumption_config import check_io_name
from runyard.data.dataset_factory import _column_type, _header_mode
from runyard.exceptions import UserErrorException

UPLOAD_MODE, MOUNT_MODE = "upload", "mount"
OUTPUT_TOKEN = "DatasetOutputConfig:{}"  # v1's _DATASET_OUTPUT_ARGUMENT_TEMPLATE


class UploadOptions:
    """v1's options of an ``as_upload()`` output."""

    def __init__(self, overwrite: bool = False, source_globs: list[str] | None = None) -> None:
        if source_globs is not None and not isinstance(source_globs, list):
            source_globs = [source_globs]
        if source_globs is not None and not all(isinstance(g, str) and g for g in source_globs):
            raise UserErrorException(
                f"source_globs={source_globs!r}: pass glob patterns relative to the output "
                "folder, e.g. ['*.csv', 'models/**']."
            )
        self.overwrite = bool(overwrite)
        self.source_globs = source_globs


class MountOptions:
    """v1's options of an ``as_mount()`` output (kept for compatibility)."""

    def __init__(self, disable_metadata_cache: bool = False) -> None:
        self.disable_metadata_cache = disable_metadata_cache


class RegistrationConfiguration:
    """How the output is registered when the run completes."""

    def __init__(self, name: str, description: str | None, tags: Mapping[str, str] | None) -> None:
        self.name, self.description, self.tags = name, description, tags


class OutputDatasetConfig:
    """Base of the output configurations: name, mode and registration (v1)."""

    def __init__(self, mode: str, name: str | None = None) -> None:
        self.mode = mode
        self._name = (
            check_io_name(name, "output", "OutputFileDatasetConfig(name='prepared')")
            if name
            else f"output_{uuid.uuid4().hex[:8]}"
        )
        self._registration: RegistrationConfiguration | None = None

    @property
    def name(self) -> str:
        """The output's name in the run (its environment variable in the job)."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_io_name(value, "output", "OutputFileDatasetConfig(name='prepared')")

    @property
    def arg_val(self) -> str:
        """What stands for the output in the stored arguments (v1)."""
        return OUTPUT_TOKEN.format(self._name)

    def register_on_complete(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> Any:
        """A copy registered as a dataset under ``name`` when the run completes: a new
        version when the name exists.

        Args:
            name: The dataset name.
            description: Its description.
            tags: Its tags.

        Returns:
            A new output configuration of the same kind.

        Raises:
            UserErrorException: An empty name, or tags that are not a dict of str.
        """
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException(
                f"register_on_complete(name={name!r}): pass the dataset name to register "
                "the output under, e.g. register_on_complete('prepared_data')."
            )
        if tags is not None and not isinstance(tags, Mapping):
            raise UserErrorException(
                f"register_on_complete(tags={tags!r}): pass a dict such as {{'stage': 'prep'}}."
            )
        registered = copy.copy(self)
        registered._registration = RegistrationConfiguration(name, description, tags)
        return registered

    def _to_run_output(self) -> dict[str, Any]:
        raise NotImplementedError


class OutputFileDatasetConfig(OutputDatasetConfig):
    """A folder the run writes, copied to ``destination`` when the run ends.

    Args:
        name: The output's name in the run (default: output_<8 hex digits>); the job's
            environment variable holding the folder's path.
        destination: (datastore, path) where the files go; the datastore may be given by
            name, and the path may hold {run-id} and {output-name}. Default: the
            workspace's default datastore at 'dataset/{run-id}/{output-name}'.
        source: The job's folder, relative to its working directory (default:
            output_datasets/<name>).
        partition_format: Kept in the registered dataset's definition (v1 compatibility).

    Raises:
        UserErrorException: A bad name, destination or source (the message says which).
    """

    def __init__(
        self,
        name: str | None = None,
        destination: Any = None,
        source: str | None = None,
        partition_format: str | None = None,
    ) -> None:
        super().__init__(MOUNT_MODE, name)
        self._destination = destination_entry(destination)
        self.destination = destination
        self.source = checked_source(source)
        self.partition_format = partition_format
        self._upload_options: UploadOptions | None = None
        self._mount_options: MountOptions | None = None

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputFileDatasetConfig:
        """A copy in mount mode (the default): what the job wrote is kept even when the
        run fails. Runyard copies the folder when the run ends rather than mounting it.

        Args:
            disable_metadata_cache: Kept for v1 compatibility.
        """
        mounted = copy.copy(self)
        mounted.mode, mounted._upload_options = MOUNT_MODE, None
        mounted._mount_options = MountOptions(disable_metadata_cache)
        return mounted

    def as_upload(
        self, overwrite: bool = False, source_globs: list[str] | None = None
    ) -> OutputFileDatasetConfig:
        """A copy in upload mode: the folder is uploaded when the run completes, and not
        at all when it fails or is canceled (v1).

        Args:
            overwrite: Replace files the destination has; otherwise such files fail the
                run (checked before anything is uploaded).
            source_globs: Only files matching these globs, relative to the folder
                (Python glob rules: '*.csv' is the folder's own, '**/*.csv' any depth).

        Raises:
            UserErrorException: source_globs is not a list of patterns.
        """
        uploaded = copy.copy(self)
        uploaded.mode, uploaded._mount_options = UPLOAD_MODE, None
        uploaded._upload_options = UploadOptions(overwrite, source_globs)
        return uploaded

    def read_delimited_files(
        self,
        include_path: bool = False,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        path_glob: str | None = None,
        set_column_types: Mapping[str, Any] | None = None,
    ) -> OutputTabularDatasetConfig:
        """The output read as delimited files: registered as a TabularDataset.

        Args:
            include_path: Add a 'Path' column with each row's file.
            separator: The field separator.
            header: As for Dataset.Tabular.from_delimited_files.
            partition_format: Kept in the definition (v1 compatibility).
            path_glob: Only files matching this glob under the output folder, e.g. '*.csv'.
            set_column_types: {column: int | float | str | bool | pandas dtype name}.

        Returns:
            An OutputTabularDatasetConfig (same name, mode and destination).

        Raises:
            UserErrorException: An unsupported header, path_glob or column type.
        """
        if path_glob is not None and (not isinstance(path_glob, str) or not path_glob.strip()):
            raise UserErrorException(
                f"read_delimited_files(path_glob={path_glob!r}): pass a glob relative to "
                "the output folder, e.g. '*.csv', or None for every file."
            )
        reader = {
            "format": "delimited",
            "separator": separator,
            "header": _header_mode(header),
            "include_path": include_path,
            "infer_column_types": True,
            "set_column_types": {
                k: _column_type(k, v) for k, v in (set_column_types or {}).items()
            },
            "support_multi_line": False,
            "empty_as_string": False,
            "encoding": "utf8",
        }
        tabular: dict[str, Any] = {"reader": reader, "path_glob": path_glob, "transforms": []}
        return OutputTabularDatasetConfig(self, tabular, partition_format)

    def _to_run_output(self) -> dict[str, Any]:
        """The run definition's ``data[name]`` entry (see runyard._services.job_uploads)."""
        options = self._upload_options or UploadOptions()
        registration = self._registration
        return {
            "direction": "output",
            "mode": self.mode,
            "source": self.source,
            "destination": dict(self._destination),
            "overwrite": options.overwrite if self.mode == UPLOAD_MODE else True,
            "source_globs": options.source_globs if self.mode == UPLOAD_MODE else None,
            "registration": None
            if registration is None
            else {
                "name": registration.name,
                "description": registration.description,
                "tags": dict(registration.tags or {}),
            },
            "tabular": None,
            "partition_format": self.partition_format,
        }

    def __repr__(self) -> str:
        return (
            f"OutputFileDatasetConfig(name={self.name!r}, mode={self.mode!r}, "
            f"destination={self._destination!r})"
        )


class OutputTabularDatasetConfig(OutputDatasetConfig):
    """An output registered as a TabularDataset; made by ``read_delimited_files``."""

    def __init__(
        self,
        file_config: OutputFileDatasetConfig | None = None,
        tabular: Mapping[str, Any] | None = None,
        partition_format: str | None = None,
    ) -> None:
        if file_config is None or tabular is None:
            raise UserErrorException(
                "OutputTabularDatasetConfig is not built directly: make an "
                "OutputFileDatasetConfig and call .read_delimited_files() on it."
            )
        super().__init__(file_config.mode, file_config.name)
        self._file = file_config
        self._tabular = dict(tabular)
        self._registration = file_config._registration
        self._partition_format = partition_format or file_config.partition_format

    def _with(self, transform: dict[str, Any] | None = None) -> OutputTabularDatasetConfig:
        changed = copy.copy(self)
        changed._file = copy.copy(self._file)
        changed._tabular = copy.deepcopy(self._tabular)
        if transform is not None:
            changed._tabular["transforms"].append(transform)
        return changed

    def keep_columns(self, columns: str | list[str]) -> OutputTabularDatasetConfig:
        """Only these columns in the registered dataset.

        Raises:
            UserErrorException: No column named.
        """
        return self._with(_transforms.columns_transform("keep_columns", columns))

    def drop_columns(self, columns: str | list[str]) -> OutputTabularDatasetConfig:
        """All columns but these in the registered dataset.

        Raises:
            UserErrorException: No column named.
        """
        return self._with(_transforms.columns_transform("drop_columns", columns))

    def random_split(
        self, percentage: float, seed: int | None = None
    ) -> tuple[OutputTabularDatasetConfig, OutputTabularDatasetConfig]:
        """Two outputs registered as the two parts of a random split; their names get
        '_1' and '_2' (v1), so each is its own output of the run.

        Raises:
            UserErrorException: percentage outside 0.0-1.0, or a seed that is not an int.
        """
        first_split, second_split = _transforms.split_transforms(percentage, seed)
        first, second = self._with(first_split), self._with(second_split)
        first.name, second.name = f"{self.name}_1", f"{self.name}_2"
        first._file._name, second._file._name = first.name, second.name
        return first, second

    def as_mount(self) -> OutputTabularDatasetConfig:
        """A copy in mount mode (see OutputFileDatasetConfig.as_mount)."""
        changed = self._with()
        changed._file = self._file.as_mount()
        changed.mode = MOUNT_MODE
        return changed

    def as_upload(
        self, overwrite: bool = False, source_globs: list[str] | None = None
    ) -> OutputTabularDatasetConfig:
        """A copy in upload mode (see OutputFileDatasetConfig.as_upload)."""
        changed = self._with()
        changed._file = self._file.as_upload(overwrite, source_globs)
        changed.mode = UPLOAD_MODE
        return changed

    def _to_run_output(self) -> dict[str, Any]:
        entry = self._file._to_run_output()
        registration = self._registration
        entry["registration"] = (
            None
            if registration is None
            else {
                "name": registration.name,
                "description": registration.description,
                "tags": dict(registration.tags or {}),
            }
        )
        entry["tabular"] = copy.deepcopy(self._tabular)
        entry["partition_format"] = self._partition_format
        return entry

    def __repr__(self) -> str:
        return f"OutputTabularDatasetConfig(name={self.name!r}, mode={self.mode!r})"
