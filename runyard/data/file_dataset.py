"""``FileDataset``: a set of files on datastores or URLs (v1: azureml.data.FileDataset)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

from runyard._services import datasets
from runyard.data.abstract_dataset import AbstractDataset
from runyard.data.dataset_consumption_config import DatasetConsumptionConfig, auto_input_name
from runyard.exceptions import DatasetPathNotFound, UserErrorException


class FileDataset(AbstractDataset):
    """Files referenced by paths; made with ``Dataset.File.from_files``."""

    _TYPE = "File"

    def to_path(self) -> list[str]:
        """The files' paths relative to the dataset's root, each starting with '/'."""
        return ["/" + f.relative for f in self._files()]

    def download(
        self,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = False,
    ) -> list[str]:
        """Copies the files into ``target_path``, keeping their relative layout.

        Args:
            target_path: Local folder (default: a new temporary folder).
            overwrite: Replace files that exist; otherwise existing files raise before
                anything is copied.
            ignore_not_found: Return [] instead of raising when no file matches.

        Returns:
            The local paths written.

        Raises:
            DatasetPathNotFound: No file matches (unless ignore_not_found).
            UserErrorException: A target file exists and overwrite is False.
        """
        files = self._files(strict=not ignore_not_found)
        dest = Path(target_path) if target_path is not None else Path(tempfile.mkdtemp())
        return [str(p) for p in datasets.copy_files(files, dest, overwrite=overwrite)]

    def mount(self, mount_point: str | os.PathLike[str] | None = None) -> MountContext:
        """A context manager giving the files as a read-only folder.

        Without FUSE, Runyard copies the files and makes the copy read-only (files 0444,
        folders 0555); the folder is removed on exit.

        Args:
            mount_point: An empty or missing folder (default: a new temporary folder).

        Returns:
            A MountContext: ``with ds.mount() as ctx: ctx.mount_point``.
        """
        return MountContext(self, Path(mount_point) if mount_point is not None else None)

    # ---- as a run input, named for you (v1's older form) ---------------------------------
    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """This dataset as a read-only folder in the job, under a name chosen for you.

        In ``arguments`` it becomes the folder's path (the file's path when the dataset
        is one file); the job also finds it in ``run.input_datasets[<name>]``.

        Args:
            path_on_compute: Kept for v1 compatibility.

        Returns:
            A DatasetConsumptionConfig named after the registered dataset (its name as a
            variable name), or input_1, input_2, ... for an unregistered one. Use
            ``as_named_input(name).as_mount()`` to choose the name.
        """
        return self.as_named_input(auto_input_name(self)).as_mount(path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """This dataset as a downloaded copy in the job, under a name chosen for you.

        Args:
            path_on_compute: Kept for v1 compatibility.

        Returns:
            A DatasetConsumptionConfig named as for :meth:`as_mount`.
        """
        return self.as_named_input(auto_input_name(self)).as_download(path_on_compute)


class MountContext:
    """What ``FileDataset.mount`` returns (v1: start/stop or a ``with`` block)."""

    def __init__(self, dataset: FileDataset, mount_point: Path | None) -> None:
        self._dataset = dataset
        self._requested = mount_point
        self.mount_point = str(mount_point) if mount_point is not None else ""

    def start(self) -> None:
        """Materializes the read-only folder."""
        point = self._requested
        if point is None:
            point = Path(tempfile.mkdtemp(prefix="runyard-mount-")) / "data"
        elif point.exists() and any(point.iterdir()):
            raise UserErrorException(
                f"mount_point {str(point)!r} is not empty; pass an empty or missing folder."
            )
        files = self._dataset._files()
        if not files:
            raise DatasetPathNotFound(
                f"Nothing to mount: the dataset's paths {self._dataset._def.get('paths')} "
                "match no file."
            )
        point.mkdir(parents=True, exist_ok=True)
        datasets.copy_files(files, point, overwrite=False, read_only=True)
        self.mount_point = str(point)

    def stop(self) -> None:
        """Removes the folder."""
        if self.mount_point:
            datasets.remove_materialized(Path(self.mount_point))

    def __enter__(self) -> MountContext:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
