"""FolderArtifactStore: artifact keys are files under one local folder.

Light (pathlib and shutil only): the job side and the agent use it directly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from runyard._artifact_names import check_artifact_name
from runyard._config import make_private_dir
from runyard._store.artifacts import ArtifactStore
from runyard.exceptions import ArtifactNotFound, UserErrorException


class FolderArtifactStore(ArtifactStore):
    """Keys map to ``root/<key>``; writes land atomically through a temp file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        make_private_dir(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_artifact_name(key)

    def _prefix_path(self, prefix: str) -> Path:
        # An empty prefix means the whole store; anything else is checked like a key.
        return self.root if prefix in ("", "/") else self._path(prefix.rstrip("/"))

    def _write_atomically(self, key: str, write: Callable[[BinaryIO], object]) -> None:
        dest = self._path(key)
        make_private_dir(dest.parent)
        # Same folder as the destination, so os.replace is a rename on one filesystem.
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, src: Path) -> None:
        src = Path(src)

        def copy(out: BinaryIO) -> None:
            with src.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1024 * 1024)

        self._write_atomically(key, copy)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(key, lambda out: out.write(data))

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key, f"the artifact store at {self.root}")
        return path

    def get_file(self, key: str, dest: Path) -> None:
        path = self._existing(key)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)

    def read_bytes(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._prefix_path(prefix)
        if base.is_file():
            return [base.relative_to(self.root).as_posix()]
        if not base.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                # Half-written temp files of concurrent put_* calls are not artifacts.
                if name.startswith(".") and name.endswith(".tmp"):
                    continue
                keys.append((Path(dirpath) / name).relative_to(self.root).as_posix())
        return sorted(keys)

    def copy(self, src_key: str, dst_key: str) -> None:
        self.put_file(dst_key, self._existing(src_key))

    def delete_prefix(self, prefix: str) -> None:
        base = self._prefix_path(prefix)
        if base == self.root:
            raise UserErrorException(
                "delete_prefix('') would empty the whole artifact store; pass a folder "
                "prefix such as 'runs/<run_id>/'."
            )
        if base.is_dir():
            shutil.rmtree(base)
        elif base.is_file():
            base.unlink()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)
