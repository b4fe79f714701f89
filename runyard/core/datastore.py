"""``Datastore``: a place files live, v1 names over fsspec (``azureml.core.Datastore``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runyard._services import datastores
from runyard.data.data_reference import DataReference
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._entities import DatastoreInfo
    from runyard.core.workspace import Workspace


class Datastore:
    """A registered datastore. ``Datastore(ws, name)`` is ``Datastore.get(ws, name)``.

    The embedded workspace's default, ``workspaceblobstore``, is a folder under the
    workspace root; its files are reached through fsspec like any other store.

    Args:
        workspace: The workspace.
        name: The datastore's name.

    Raises:
        DatastoreNotFound: No datastore with that name.
    """

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        services = workspace._services
        info = (
            datastores.get_datastore(services, name)
            if name is not None
            else datastores.ensure_default_datastore(services)
        )
        self._set(workspace, info)

    def _set(self, workspace: Workspace, info: DatastoreInfo) -> None:
        self.workspace = workspace
        self._info = info

    @classmethod
    def _wrap(cls, workspace: Workspace, info: DatastoreInfo) -> Datastore:
        store = cls.__new__(cls)
        store._set(workspace, info)
        return store

    # ---- lookup ------------------------------------------------------------------------
    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        """The datastore named ``datastore_name``.

        Raises:
            DatastoreNotFound: No such datastore (the message lists those that exist).
        """
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        """The workspace's default datastore (``workspaceblobstore`` unless changed)."""
        return Datastore(workspace)

    @staticmethod
    def list(workspace: Workspace) -> list[Datastore]:
        """Every datastore of the workspace, by name."""
        infos = datastores.list_datastores(workspace._services)
        return [Datastore._wrap(workspace, info) for info in infos]

    def set_as_default(self) -> None:
        """Makes this the workspace's default datastore."""
        self._info = datastores.set_default_datastore(self.workspace._services, self.name)

    # ---- identity ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info.name

    @property
    def datastore_type(self) -> str:
        return self._info.datastore_type

    @property
    def url(self) -> str:
        """The fsspec URL of the datastore's root."""
        return str(self._info.config["url"])

    # ---- files -------------------------------------------------------------------------
    def upload(
        self,
        src_dir: str | os.PathLike[str],
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Uploads a folder's files, keeping their layout under ``target_path``.

        Args:
            src_dir: The local folder.
            target_path: Folder on the datastore (default: its root).
            overwrite: Replace files that exist; otherwise they are skipped (logged).
            show_progress: Show a progress bar.

        Returns:
            A DataReference to ``target_path``.

        Raises:
            UserErrorException: src_dir is not a folder, or target_path leaves the root.
        """
        folder = Path(src_dir)
        if not folder.is_dir():
            raise UserErrorException(
                f"datastore.upload(src_dir={str(src_dir)!r}): not a folder. Pass a folder, "
                "or use upload_files(files=[...]) for single files."
            )
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        return self._upload(files, folder, target_path, overwrite, show_progress)

    def upload_files(
        self,
        files: Sequence[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Uploads files; their paths relative to ``relative_root`` are kept.

        Args:
            files: Local file paths.
            relative_root: The folder their datastore paths are relative to (default:
                the files' common folder).
            target_path: Folder on the datastore (default: its root).
            overwrite: Replace files that exist; otherwise they are skipped (logged).
            show_progress: Show a progress bar.

        Returns:
            A DataReference to ``target_path``.

        Raises:
            UserErrorException: A file is missing or lies outside relative_root.
        """
        paths = [Path(f).absolute() for f in files]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing or not paths:
            raise UserErrorException(
                f"datastore.upload_files: no file at {missing or '[] (empty list)'}; pass "
                "existing file paths (use upload(src_dir) for a folder)."
            )
        root = (
            Path(relative_root).absolute()
            if relative_root is not None
            else Path(os.path.commonpath([p.parent for p in paths]))
        )
        outside = [str(p) for p in paths if not p.is_relative_to(root)]
        if outside:
            raise UserErrorException(
                f"datastore.upload_files: {outside} not under relative_root={str(root)!r}; "
                "pass a relative_root that contains every file."
            )
        return self._upload(paths, root, target_path, overwrite, show_progress)

    def _upload(
        self,
        files: Sequence[Path],
        root: Path,
        target_path: str | None,
        overwrite: bool,
        show_progress: bool,
    ) -> DataReference:
        target = datastores.clean_relative(target_path, what="target_path")
        pairs = [
            (f, "/".join(filter(None, [target, f.relative_to(root).as_posix()]))) for f in files
        ]
        datastores.upload_files(self._info, pairs, overwrite=overwrite, show_progress=show_progress)
        return DataReference(self, path_on_datastore=target)

    def download(
        self,
        target_path: str | os.PathLike[str],
        prefix: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> int:
        """Downloads files under ``prefix`` into ``target_path``, keeping their paths.

        Args:
            target_path: Local folder.
            prefix: A folder or file on the datastore (default: everything).
            overwrite: Replace local files; otherwise they are skipped (logged).
            show_progress: Show a progress bar.

        Returns:
            The number of files written.
        """
        return datastores.download(
            self._info,
            Path(target_path),
            prefix=prefix,
            overwrite=overwrite,
            show_progress=show_progress,
        )

    def path(
        self, path: str | None = None, data_reference_name: str | None = None
    ) -> DataReference:
        """A reference to ``path`` on this datastore (v1's legacy data reference)."""
        clean = datastores.clean_relative(path, what="path")
        return DataReference(self, data_reference_name, path_on_datastore=clean)

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, type={self.datastore_type!r}, url={self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Datastore) and (other.workspace, other.name) == (
            self.workspace,
            self.name,
        )

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))
