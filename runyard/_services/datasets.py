"""Datasets: which files a dataset definition means, copying them, registering it.

A definition is ``{"type": "File" | "Tabular", "paths": [entry, ...], ...}`` where an entry
is ``{"datastore": name, "path": "folder/or/glob/**"}`` or ``{"url": "file:///..."}``.
Files keep their paths relative to the entries' common base folder (the part before any
glob), so a folder dataset's layout (MNIST's ``pfnet/chainer/mnist/*.npz``) survives
download and mount.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._entities import DatasetInfo
from runyard._services import datastores
from runyard.exceptions import DatasetPathNotFound, UserErrorException

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from runyard._services import Services

_GLOB_CHARS = ("*", "?", "[")


@dataclass(frozen=True, slots=True)
class DatasetFile:
    fs: AbstractFileSystem
    path: str  # on fs
    relative: str  # POSIX path under the dataset's root


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


def _expand(url: str) -> tuple[AbstractFileSystem, str, list[str]]:
    """(filesystem, base folder, matching files) of one URL, folder, file or glob."""
    # late: light path; fsspec is not in a job's environment (jobs import this module)
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    path = path.rstrip("/") or "/"
    parts = path.split("/")
    if any(c in path for c in _GLOB_CHARS):
        first_glob = next(i for i, p in enumerate(parts) if _has_glob(p))
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


def _has_glob(part: str) -> bool:
    return any(c in part for c in _GLOB_CHARS)


def resolve_files(
    definition: Mapping[str, Any], services: Services | None = None, *, strict: bool = False
) -> list[DatasetFile]:
    """Every file of the dataset, with its path relative to the dataset's root.

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


def copy_files(
    files: list[DatasetFile], dest: Path, *, overwrite: bool, read_only: bool = False
) -> list[Path]:
    """Copies the files under dest keeping their relative paths; checks before writing."""
    targets = [dest / f.relative for f in files]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise UserErrorException(
            f"{len(existing)} file(s) already exist under {str(dest)!r} (first: "
            f"{existing[0]!r}); pass overwrite=True or choose an empty target_path."
        )
    for file, target in zip(files, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        file.fs.get_file(file.path, str(target))
    if read_only:
        make_read_only(dest)
    return targets


def make_read_only(folder: Path) -> None:
    """Files 0444, folders 0555: a job that does not run as root cannot change them."""
    for root, _dirs, names in os.walk(folder):
        for name in names:
            os.chmod(os.path.join(root, name), 0o444)
    for root, dirs, _names in os.walk(folder, topdown=False):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o555)
    os.chmod(folder, 0o555)


def remove_materialized(folder: Path) -> None:
    """Deletes a folder made by materialize_input, read-only parts included."""
    if not folder.exists():
        return
    for root, dirs, _names in os.walk(folder):
        os.chmod(root, stat.S_IRWXU)
        for name in dirs:
            os.chmod(os.path.join(root, name), stat.S_IRWXU)
    shutil.rmtree(folder)


def materialize_input(services: Services, entry: Mapping[str, Any], dest: Path) -> Path:
    """Makes one run input's files available under ``dest`` and returns the folder.

    ``entry`` is one value of a run definition's ``data`` (see
    DatasetConsumptionConfig._to_run_data). "download" (and "direct") leaves a plain copy.
    "mount" leaves a read-only copy: files 0444 and folders 0555, so a job running as an
    ordinary user cannot write there; a job running as root can (permission bits do not
    bind root), but it only ever changes its own copy, never the datastore. Remove the
    folder with remove_materialized (plain rmtree fails on the read-only folders).
    """
    mode = entry.get("mode", "mount")
    if mode not in ("mount", "download", "direct"):
        raise UserErrorException(
            f"Dataset input mode {mode!r} is not supported; use as_mount() or as_download()."
        )
    files = resolve_files(entry["dataset"], services)
    dest.mkdir(parents=True, exist_ok=True)
    copy_files(files, dest, overwrite=True, read_only=(mode == "mount"))
    return dest


# ---- registry ---------------------------------------------------------------------------
def register_dataset(
    services: Services,
    definition: Mapping[str, Any],
    *,
    name: str,
    description: str | None,
    tags: Mapping[str, str | None] | None,
    create_new_version: bool,
) -> DatasetInfo:
    return services.store.register_dataset(
        name=name,
        definition=definition,
        description=description,
        tags=tags,
        create_new_version=create_new_version,
    )


def get_dataset(services: Services, name: str, version: int | None = None) -> DatasetInfo:
    return services.store.get_dataset(name, version)


def get_dataset_by_id(services: Services, dataset_id: str) -> DatasetInfo:
    return services.store.get_dataset_by_id(dataset_id)


def list_datasets(services: Services) -> list[DatasetInfo]:
    return services.store.list_datasets()
