"""The artifact store interface (file contents) and the folder implementation.

Keys are relative POSIX paths such as ``runs/<run_id>/outputs/model.npz`` or
``models/<uuid>/model.npz``. This module must stay light: job processes import it
(no SQLAlchemy here).
"""

from __future__ import annotations

import abc
from pathlib import Path


class ArtifactStore(abc.ABC):
    """File contents of runs, models and snapshots, addressed by key."""

    @abc.abstractmethod
    def put_file(self, key: str, src: Path, *, overwrite: bool = True) -> None:
        """Copies a local file to ``key`` (atomically: readers never see half a file).
        With ``overwrite=False`` an existing ``key`` raises ArtifactExists and is kept."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = True) -> None: ...

    @abc.abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """Copies ``key`` to a local file, creating parent folders. ArtifactNotFound."""

    @abc.abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys of files under ``prefix`` (a folder prefix ending in '/', or a key),
        sorted, relative to the store root."""

    @abc.abstractmethod
    def copy(self, src_key: str, dst_key: str) -> None: ...

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abc.abstractmethod
    def local_path(self, key: str) -> Path | None:
        """Where ``key`` lives on this machine's disk, or None for remote stores. The
        agent writes live logs straight there when it can."""
