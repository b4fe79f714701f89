"""The artifact store interface (file contents) and the folder implementation.

Keys are relative POSIX paths such as ``runs/<run_id>/outputs/model.npz`` or
``models/<uuid>/model.npz``. This module must stay light: job processes import it
(no SQLAlchemy here).
"""

from __future__ import annotations

import abc
import posixpath
from pathlib import Path, PurePosixPath

from runyard.exceptions import InvalidArtifactName


def check_artifact_name(name: object) -> str:
    """Returns the normalised name, or raises InvalidArtifactName naming the problem.

    Accepts relative POSIX paths; refuses absolute paths, drive letters, backslashes,
    ``..`` segments, empty names and names that would escape the run's folder."""
    if not isinstance(name, str):
        raise InvalidArtifactName(name, f"it must be a str, not {type(name).__name__}")
    if not name or not name.strip():
        raise InvalidArtifactName(name, "it is empty")
    if "\x00" in name:
        raise InvalidArtifactName(name, "it contains a NUL character")
    if "\\" in name:
        raise InvalidArtifactName(name, "use '/' as the separator, not '\\'")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InvalidArtifactName(name, "it is an absolute path")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise InvalidArtifactName(name, "'..' would leave the run's folder")
    norm = posixpath.normpath(name)
    if norm in (".", "") or norm.startswith("../"):
        raise InvalidArtifactName(name, "it does not name a file inside the run")
    return norm


class ArtifactStore(abc.ABC):
    """File contents of runs, models and snapshots, addressed by key."""

    @abc.abstractmethod
    def put_file(self, key: str, src: Path) -> None:
        """Copies a local file to ``key`` (atomically: readers never see half a file)."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

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
