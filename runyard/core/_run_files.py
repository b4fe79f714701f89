"""The file side of a Run: its artifacts, its snapshot and registering a model from them.

A mixin of ``runyard.core.run.Run`` (which supplies ``_services``, ``_run_id``,
``_experiment``, ``_tracked`` and ``_get_info``); kept apart so each module holds one topic.
Light like run.py: only services whose imports are pure Python load with it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._entities import RunInfo
    from runyard._services import Services
    from runyard._services.run_files import HasArtifacts
    from runyard.core.model import Model

# Job side: a job's Run.get_context() imports this module, so what it imports is paid at
# every job's start. The services (and the SDK modules that only some methods need) are
# imported inside the methods that use them ("late: job side"); tests/core/test_imports.py
# holds a job's start to what logging needs.


class _RunFiles:
    _run_id: str
    _experiment: Any
    _tracked: list[tuple[str, Path]]

    if TYPE_CHECKING:  # supplied by Run

        @property
        def _services(self) -> Services: ...

        def _get_info(self) -> RunInfo: ...

    # ---- files ---------------------------------------------------------------------------
    def _upload_target(self) -> HasArtifacts:
        """What the upload functions write through: the workspace's services here; a
        submitted run overrides it with the artifact store alone (no database in jobs)."""
        return self._services

    def _upload_tracked(self) -> None:
        """v1 uploads the tracked folders whenever the run ends, so files written to
        ./outputs of an interactive run become its ``outputs/...`` files."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        for name, folder in self._tracked:
            if folder.is_dir():
                run_files.upload_folder(
                    self._upload_target(), self._run_id, name, folder, overwrite=True
                )

    def get_file_names(self) -> list[str]:
        """Names of the run's files ([] when none)."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        return run_files.list_files(self._services, self._run_id)

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: Any = None) -> None:
        """Uploads a local file (or a readable stream) as the run's file ``name``.

        Raises:
            InvalidArtifactName: ``name`` is absolute, holds '..' or leaves the run's folder.
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        run_files.upload_file(self._upload_target(), self._run_id, name, path_or_stream)

    def upload_files(
        self,
        names: list[str],
        paths: list[Any],
        return_artifacts: bool = False,
        timeout_seconds: int | None = None,
        datastore_name: Any = None,
    ) -> None:
        """Uploads several files; names and paths must have the same length."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        run_files.upload_files(self._upload_target(), self._run_id, names, paths)

    def upload_folder(self, name: str, path: Any, datastore_name: Any = None) -> None:
        """Uploads a folder; each file becomes ``name/<path inside the folder>``."""
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        run_files.upload_folder(self._upload_target(), self._run_id, name, path)

    def download_file(
        self, name: str, output_file_path: Any = None, _validate_checksum: bool = False
    ) -> None:
        """Downloads one file (default target: its base name in the current folder).

        Raises:
            ArtifactNotFound: No such file (the message lists the files that exist).
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        run_files.download_file(self._services, self._run_id, name, output_file_path)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: Any = None,
        output_paths: list[Any] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        timeout_seconds: int | None = None,
    ) -> None:
        """Downloads the files whose names start with ``prefix`` (all when None).

        Raises:
            ArtifactNotFound: Nothing matches the prefix.
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import run_files

        run_files.download_files(
            self._services,
            self._run_id,
            prefix=prefix,
            output_directory=output_directory,
            output_paths=output_paths,
            append_prefix=append_prefix,
        )

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        description: str | None = None,
        datasets: Any = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
        **kwargs: Any,
    ) -> Model:
        """Registers a file or folder of this run as a new model version.

        Args:
            model_name: The model's name (v1's rule: letters, digits, '-', '.', '_').
            model_path: A file or folder of the run, e.g. 'outputs/model.pkl' (default:
                model_name).

        Raises:
            ModelPathNotFoundException: model_path is not among the run's files (the
                message lists those that exist).
            WebserviceException: Bad model name.
        """
        # late: job side (see the note at the top of this module)
        # late: job side (see the note at the top of this module)
        from runyard._services import registry
        from runyard.core.model import Model

        mv = registry.register_from_run(
            self._services,
            self._run_id,
            model_name=model_name,
            model_path=model_path,
            tags=tags,
            properties=properties,
            description=description,
            model_framework=model_framework,
            model_framework_version=model_framework_version,
        )
        return Model._from_version(self._experiment.workspace, mv)

    # ---- snapshot ------------------------------------------------------------------------
    def get_snapshot_id(self) -> str | None:
        """The id of the source snapshot taken at submit (None for runs without one)."""
        return self._get_info().properties.get("ContentSnapshotId")

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | None = None) -> str:
        """Writes the files of a snapshot (default: this run's) into ``path`` (default: a
        new folder ``<cwd>/<snapshot_id>``) and returns that folder.

        Raises:
            UserErrorException: The run has no snapshot and none was given, or ``path``
                exists and is not an empty folder.
        """
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise UserErrorException(
                f"Run {self._run_id!r} has no source snapshot (interactive runs started with "
                "snapshot_directory=None have none); pass snapshot_id=."
            )
        # late: job side; a job's Run.get_context() imports this module and must start fast,
        # and restoring a snapshot pulls in the agent client, compute backends and snapshots.
        from runyard._services import snapshots

        return str(snapshots.restore(self._services.layout, snapshot_id, path))


def _tracked_folders(outputs: Any) -> list[tuple[str, Path]]:
    """(artifact name, absolute folder) for each tracked outputs folder, created now as v1
    does; a folder given as an absolute path or leaving the cwd is named by its base name."""
    if outputs is None:
        return []
    folders = [outputs] if isinstance(outputs, str | os.PathLike) else list(outputs)
    tracked = []
    for folder in folders:
        path = Path(folder)
        if path.exists() and not path.is_dir():
            raise UserErrorException(
                f"The outputs folder {str(folder)!r} is a file; pass outputs='<another folder>' "
                "to track a folder, or outputs=False to track none."
            )
        path.mkdir(parents=True, exist_ok=True)
        name = posixpath.normpath(path.as_posix())
        if path.is_absolute() or name == ".." or name.startswith("../"):
            name = path.resolve().name
        tracked.append((name, path.resolve()))
    return tracked
