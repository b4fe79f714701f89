"""FolderArtifactStore: artifact keys are files under one local folder.

Light (pathlib and shutil only): the job side and the agent use it directly.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from runyard._artifact_names import check_artifact_name
from runyard._config import make_private_dir
from runyard._store.artifacts import ArtifactStore
from runyard.exceptions import ArtifactExists, ArtifactNotFound, UserErrorException

# Filesystems without hard links: there a new name is checked, then renamed (not atomic).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})


def _link_new(tmp: str, dest: Path, key: str, root: Path) -> None:
    """Gives the written temp file the name ``dest`` only if no file has it: a hard link
    fails on an existing name, where a rename would replace it."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise ArtifactExists([key], str(root)) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if dest.exists():
            raise ArtifactExists([key], str(root)) from None
        os.replace(tmp, dest)


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

    def _write_atomically(
        self, key: str, write: Callable[[BinaryIO], object], overwrite: bool
    ) -> None:
        dest = self._path(key)
        make_private_dir(dest.parent)
        if not overwrite and dest.exists():
            raise ArtifactExists([key], str(self.root))
        # Same folder as the destination, so os.replace is a rename on one filesystem.
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            if overwrite:
                os.replace(tmp, dest)
            else:
                _link_new(tmp, dest, key, self.root)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        Path(tmp).unlink(missing_ok=True)  # after _link_new: dest is the other name

    def put_file(self, key: str, src: Path, *, overwrite: bool = True) -> None:
        src = Path(src)

        def copy(out: BinaryIO) -> None:
            with src.open("rb") as inp:
                shutil.copyfileobj(inp, out, 1024 * 1024)

        self._write_atomically(key, copy, overwrite)

    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = True) -> None:
        self._write_atomically(key, lambda out: out.write(data), overwrite)

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
