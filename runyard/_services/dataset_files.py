"""Which files a dataset definition's paths name, before any transform.

A definition is ``{"type": "File" | "Tabular", "paths": [entry, ...], ...}`` where an entry
is ``{"datastore": name, "path": "folder/or/glob/**"}`` or ``{"url": "file:///..."}``.
Files keep their paths relative to the entries' common base folder (the part before any
glob), so a folder dataset's layout (MNIST's ``pfnet/chainer/mnist/*.npz``) survives
download and mount.

Files are reached through fsspec. Where fsspec is not installed (a job's uv-built
environment reading the local copy of a direct input), local paths are read with the
standard library instead; nothing else needs fsspec there.
"""

from __future__ import annotations

import glob
import os
import posixpath
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from runyard._services import datastores
from runyard.exceptions import DatasetPathNotFound, UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services

_GLOB_CHARS = ("*", "?", "[")


@dataclass(frozen=True, slots=True)
class DatasetFile:
    fs: Any  # an fsspec filesystem, or anything with open(path, mode) and get_file(path, dst)
    path: str  # on fs
    relative: str  # POSIX path under the dataset's root


class LocalFiles:
    """The fsspec calls datasets make, on local paths, for a Python without fsspec."""

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def find(self, path: str) -> list[str]:
        found: list[str] = []
        for root, _dirs, names in os.walk(path, followlinks=True):
            found.extend(os.path.join(root, name) for name in names)
        return sorted(found)

    def glob(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern, recursive=True))

    def open(self, path: str, mode: str = "rb") -> IO[Any]:
        return open(path, mode)  # noqa: SIM115 - the caller closes it, as with fsspec

    def get_file(self, path: str, target: str) -> None:
        shutil.copyfile(path, target)


def entry_label(entry: Mapping[str, Any]) -> str:
    """How an error names one path entry."""
    if "datastore" in entry:
        return f"({entry['datastore']!r}, {entry['path']!r})"
    return repr(entry["url"])


def _entry_url(entry: Mapping[str, Any], services: Services | None) -> str:
    if "url" in entry:
        return str(entry["url"])
    if services is None:
        raise UserErrorException(
            f"The dataset path {entry_label(entry)} is on a datastore, which needs a "
            "workspace: build the dataset from (datastore, path) or get it with "
            "Dataset.get_by_name(ws, name)."
        )
    info = datastores.get_datastore(services, entry["datastore"])
    url: str = info.config["url"]
    return url.rstrip("/") + "/" + str(entry["path"]).lstrip("/")


def _url_to_fs(url: str) -> tuple[Any, str]:
    try:
        # late: light path; fsspec is not in a job's environment (jobs import this module)
        from fsspec.core import url_to_fs
    except ImportError:
        if "://" not in url or url.startswith("file://"):
            return LocalFiles(), url.removeprefix("file://")
        raise UserErrorException(
            f"Reading the dataset path {url!r} needs fsspec, which this Python does not "
            "have. Install it (pip install fsspec; in a job, add 'fsspec' to the "
            "Environment's pip packages)."
        ) from None
    return url_to_fs(url)  # type: ignore[no-any-return]


def _expand(url: str) -> tuple[Any, str, list[str]]:
    """(filesystem, base folder, matching files) of one URL, folder, file or glob."""
    fs, path = _url_to_fs(url)
    path = path.rstrip("/") or "/"
    parts = path.split("/")
    if has_glob(path):
        first_glob = next(i for i, p in enumerate(parts) if has_glob(p))
        base = "/".join(parts[:first_glob]) or "/"
        files: list[str] = []
        for match in fs.glob(path):
            files.extend(fs.find(match) if fs.isdir(match) else [match])
        return fs, base, sorted(set(files))
    if fs.isdir(path):
        return fs, path, sorted(fs.find(path))
    if fs.isfile(path):
        return fs, posixpath.dirname(path), [path]
    return fs, posixpath.dirname(path), []


def has_glob(path: str) -> bool:
    return any(c in path for c in _GLOB_CHARS)


def list_files(
    definition: Mapping[str, Any], services: Services | None = None, *, strict: bool = False
) -> list[DatasetFile]:
    """Every file the definition's paths name, sorted by its path relative to the
    dataset's root.

    strict: raise DatasetPathNotFound naming each path entry that matches nothing."""
    expanded = []
    for entry in definition.get("paths", []):
        fs, base, files = _expand(_entry_url(entry, services))
        if strict and not files:
            raise DatasetPathNotFound(
                f"No file matches the dataset path {entry_label(entry)}. Check the path "
                "(upload the files first, e.g. datastore.upload(src_dir, target_path)), or "
                "pass validate=False to create the dataset anyway."
            )
        expanded.append((fs, base, files))
    bases = [base for _, base, files in expanded if files]
    same_fs = len({type(fs) for fs, _, _ in expanded}) <= 1
    common = posixpath.commonpath(bases) if bases and same_fs else None
    found: dict[str, DatasetFile] = {}
    for fs, base, files in expanded:
        root = common if common is not None else base
        for path in files:
            found.setdefault(path, DatasetFile(fs, path, posixpath.relpath(path, root)))
    return sorted(found.values(), key=lambda f: f.relative)


def names_one_file(
    definition: Mapping[str, Any], files: list[DatasetFile], services: Services | None
) -> bool:
    """True when the definition is one path naming one file (no folder, no glob): v1 then
    gives a job the file's own path, not its folder's."""
    paths = definition.get("paths") or []
    if len(paths) != 1 or len(files) != 1:
        return False
    fs, path = _url_to_fs(_entry_url(paths[0], services))
    return not has_glob(path) and bool(fs.isfile(path))
