"""Datastores: where datasets' files live, reached through fsspec URLs.

The embedded workspace's default datastore is a folder, ``<root>/datastores/<name>``,
registered as ``file:///...``; every file operation goes through ``fsspec`` so that an
object-store URL (``s3://``, ``abfs://``) can back a datastore later without new code here.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._config import make_private_dir
from runyard._entities import DatastoreInfo
from runyard.exceptions import DatastoreExists, DatastoreNotFound, UserErrorException

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from runyard._services import Services

log = logging.getLogger(__name__)

# v1's WORKSPACE_DEFAULT_BLOB_STORE_NAME.
DEFAULT_DATASTORE_NAME = "workspaceblobstore"
FOLDER_TYPE = "LocalFolder"
# Where a run's output dataset goes without a destination path (v1's default).
DEFAULT_OUTPUT_PATH = "dataset/{run-id}/{output-name}"


def ensure_default_datastore(services: Services) -> DatastoreInfo:
    """The workspace's default datastore, creating the folder one on first use."""
    found = services.store.get_default_datastore()
    if found is not None:
        return found
    folder = services.layout.root / "datastores" / DEFAULT_DATASTORE_NAME
    make_private_dir(folder)
    try:
        return services.store.register_datastore(
            name=DEFAULT_DATASTORE_NAME,
            datastore_type=FOLDER_TYPE,
            # Not as_uri(): fsspec does not undo its percent-encoding of spaces.
            config={"url": "file://" + folder.as_posix()},
        )
    except DatastoreExists:  # another process registered it first
        return services.store.get_datastore(DEFAULT_DATASTORE_NAME)


def get_datastore(services: Services, name: str) -> DatastoreInfo:
    """Raises DatastoreNotFound; the default name is created on first use."""
    try:
        return services.store.get_datastore(name)
    except DatastoreNotFound:
        if name != DEFAULT_DATASTORE_NAME:
            raise
    ensure_default_datastore(services)
    return services.store.get_datastore(name)


def list_datastores(services: Services) -> list[DatastoreInfo]:
    ensure_default_datastore(services)
    return services.store.list_datastores()


def set_default_datastore(services: Services, name: str) -> DatastoreInfo:
    ensure_default_datastore(services)
    return services.store.set_default_datastore(name)


def filesystem(info: DatastoreInfo) -> tuple[AbstractFileSystem, str]:
    """The datastore's fsspec filesystem and its root path on it."""
    # late: light path; fsspec is not in a job's environment (jobs import this module)
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(info.config["url"])
    return fs, root.rstrip("/") or "/"


def clean_relative(path: str | None, *, what: str) -> str:
    """``path`` as a normalised relative POSIX path ('' for the root); refuses '..'."""
    if not path:
        return ""
    norm = posixpath.normpath(str(path).replace("\\", "/")).lstrip("/")
    if norm == ".":
        return ""
    if norm == ".." or norm.startswith("../"):
        raise UserErrorException(
            f"{what}={path!r} leaves the datastore's root; give a path inside it, "
            "such as 'data/mnist'."
        )
    return norm


@contextmanager
def _progress(show: bool, description: str, total: int) -> Iterator[Any]:
    """A rich progress bar when show is True; otherwise a task that counts silently."""
    if not show:
        yield None
        return
    # late: light path; rich is not in a job's environment (jobs import this module)
    from rich.progress import Progress

    with Progress() as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def upload_files(
    info: DatastoreInfo,
    files: Sequence[tuple[Path, str]],
    *,
    overwrite: bool,
    show_progress: bool,
) -> int:
    """Copies (local file, relative target) pairs in; returns how many were written.

    Existing targets are skipped unless overwrite, as v1 does (logged, never silent)."""
    fs, root = filesystem(info)
    written, skipped = 0, []
    with _progress(show_progress, f"Uploading to {info.name}", len(files)) as advance:
        for local, target in files:
            remote = posixpath.join(root, target)
            if not overwrite and fs.exists(remote):
                skipped.append(target)
            else:
                fs.makedirs(posixpath.dirname(remote), exist_ok=True)
                fs.put_file(str(local), remote)
                written += 1
            if advance is not None:
                advance()
    if skipped:
        log.warning(
            "Skipped %d file(s) that already exist in datastore %r (first: %r); pass "
            "overwrite=True to replace them.",
            len(skipped),
            info.name,
            skipped[0],
        )
    log.info("Uploaded %d file(s) to datastore %r", written, info.name)
    return written


def download(
    info: DatastoreInfo,
    target: Path,
    *,
    prefix: str | None,
    overwrite: bool,
    show_progress: bool,
) -> int:
    """Copies the files under ``prefix`` to ``target`` keeping their datastore paths."""
    fs, root = filesystem(info)
    start = posixpath.join(root, clean_relative(prefix, what="prefix"))
    if fs.isfile(start):
        found = [start]
    elif fs.isdir(start):
        found = sorted(fs.find(start))
    else:
        found = []
    written, skipped = 0, 0
    with _progress(show_progress, f"Downloading from {info.name}", len(found)) as advance:
        for remote in found:
            local = target / posixpath.relpath(remote, root)
            if local.exists() and not overwrite:
                skipped += 1
            else:
                local.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(local))
                written += 1
            if advance is not None:
                advance()
    if skipped:
        log.warning(
            "Skipped %d file(s) that already exist under %s; pass overwrite=True to replace them.",
            skipped,
            target,
        )
    return written
