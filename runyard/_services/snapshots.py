"""Content-addressed snapshots of a run's source directory.

``snapshots/blobs/<sha256>`` holds each distinct file once; ``snapshots/manifests/<id>.json``
maps relative POSIX paths to ``[sha256, mode]``, and the id is the sha256 of that manifest,
so two identical source directories share one snapshot. Ignore rules follow v1: ``.amlignore``
when present, else ``.gitignore`` (gitignore syntax through ``pathspec``; nested ignore files
apply below their folder). ``.git/`` and ``__pycache__/`` are always skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._config import Settings, WorkspaceLayout, make_private_dir
from runyard._services.run_files import link_problem
from runyard.exceptions import SnapshotException, UserErrorException

if TYPE_CHECKING:
    import pathspec

_ALWAYS_SKIPPED_DIRS = frozenset({".git", "__pycache__"})
_IGNORE_FILES = (".amlignore", ".gitignore")
_SHOWN_LARGEST = 5


@dataclass(frozen=True, slots=True)
class _SourceFile:
    rel: str
    path: Path
    size: int
    mode: int


def _ignore_spec(folder: Path) -> pathspec.GitIgnoreSpec | None:
    # late: light path; the SDK (and so a job) imports this module, and a job's built
    # environment has no pathspec. Only taking a snapshot needs it.
    import pathspec

    for name in _IGNORE_FILES:
        candidate = folder / name
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8", errors="replace").splitlines()
            return pathspec.GitIgnoreSpec.from_lines(lines)
    return None


def _ignored(specs: list[tuple[str, pathspec.GitIgnoreSpec]], rel: str, is_dir: bool) -> bool:
    for base, spec in specs:
        sub = rel[len(base) :] if base else rel
        if spec.match_file(sub + "/" if is_dir else sub):
            return True
    return False


def list_source_files(source_directory: Path) -> list[_SourceFile]:
    """Files that go into the snapshot, sorted by path, honouring ignore files.

    A symbolic link is followed when it points inside the source directory (a file link is
    stored as a copy of its target, a folder link as that folder's files under the link's
    name). One pointing outside it, to nothing, or to a folder that holds it refuses the
    snapshot (SnapshotException naming each), unless an ignore file leaves it out.
    """
    root = Path(os.path.realpath(source_directory))
    files: list[_SourceFile] = []
    refused: list[tuple[str, str]] = []
    stack: list[tuple[Path, str, list[tuple[str, pathspec.GitIgnoreSpec]], tuple[Path, ...]]]
    stack = [(source_directory, "", [], (root,))]
    while stack:
        folder, rel_folder, specs, ancestors = stack.pop()
        spec = _ignore_spec(folder)
        if spec is not None:
            specs = [*specs, (rel_folder, spec)]
        with os.scandir(folder) as entries:
            for entry in entries:
                rel, is_dir = rel_folder + entry.name, entry.is_dir()
                skipped = is_dir and entry.name in _ALWAYS_SKIPPED_DIRS
                if skipped or _ignored(specs, rel, is_dir):
                    continue
                if entry.is_symlink():
                    why = link_problem(Path(entry.path), root, ancestors)
                    if why is not None:
                        refused.append((rel, why))
                        continue
                if is_dir:
                    real = Path(os.path.realpath(entry.path))
                    stack.append((Path(entry.path), rel + "/", specs, (*ancestors, real)))
                elif entry.is_file():
                    st = entry.stat()
                    files.append(_SourceFile(rel, Path(entry.path), st.st_size, st.st_mode))
    if refused:
        _refuse_links(source_directory, sorted(refused))
    files.sort(key=lambda f: f.rel)
    return files


def _refuse_links(source: Path, refused: list[tuple[str, str]]) -> None:
    shown = "; ".join(f"{rel!r} {why}" for rel, why in refused[:20])
    more = f" (and {len(refused) - 20} more)" if len(refused) > 20 else ""
    raise SnapshotException(
        f"Cannot snapshot source directory {str(source)!r}: it holds symbolic links that "
        f"cannot be followed from inside it: {shown}{more}. A snapshot holds only what is in "
        "source_directory: list each link in a .amlignore file there (e.g. a line "
        f"{refused[0][0]!r}), or copy the file or folder into source_directory instead of "
        "linking it."
    )


def check_source_directory(source_directory: str | os.PathLike[str]) -> Path:
    path = Path(source_directory).expanduser()
    if not path.exists():
        raise UserErrorException(
            f"source_directory {str(source_directory)!r} does not exist (resolved to "
            f"{path.resolve()}). Pass the folder that holds your script, e.g. "
            "ScriptRunConfig(source_directory='.', script='train.py')."
        )
    if not path.is_dir():
        raise UserErrorException(
            f"source_directory {str(source_directory)!r} is a file, not a folder. Pass the "
            "folder that holds your script and name the script with script=..."
        )
    return path.resolve()


def _check_limits(source: Path, files: list[_SourceFile], settings: Settings) -> None:
    total = sum(f.size for f in files)
    too_big = total > settings.snapshot_max_bytes
    too_many = len(files) > settings.snapshot_max_files
    if not (too_big or too_many):
        return
    largest = sorted(files, key=lambda f: f.size, reverse=True)[:_SHOWN_LARGEST]
    shown = ", ".join(f"{f.rel} ({f.size / 1e6:.1f} MB)" for f in largest)
    if too_big:
        what = (
            f"total snapshot size {total / 1e6:.2f} MB exceeds the limit of "
            f"{settings.snapshot_max_bytes / 1e6:.2f} MB"
        )
        knob = "RUNYARD_SNAPSHOT_MAX_SIZE_BYTES"
    else:
        what = (
            f"it holds {len(files)} files, more than the limit of "
            f"{settings.snapshot_max_files} files"
        )
        knob = "RUNYARD_SNAPSHOT_MAX_FILES"
    raise SnapshotException(
        f"Cannot snapshot source directory {str(source)!r}: {what}. Largest files: {shown}. "
        "Keep data, virtual environments and outputs out of source_directory by listing them "
        f"in a .amlignore (or .gitignore) file there, or raise the limit with {knob}."
    )


def _store_blob(blobs: Path, src: Path) -> str:
    digest = hashlib.sha256()
    with open(src, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    dest = blobs / sha
    if not dest.exists():
        # Write beside then rename, so a concurrent snapshot never sees half a blob.
        fd, tmp = tempfile.mkstemp(dir=blobs, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return sha


def take_snapshot(
    services_or_layout: Any, source_directory: str | os.PathLike[str], settings: Settings
) -> str:
    """Snapshots ``source_directory`` into the workspace and returns the snapshot id.

    Raises:
        UserErrorException: the directory is missing or is a file.
        SnapshotException: it is over the size or file-count limit (checked before
            anything is copied).
    """
    layout: WorkspaceLayout = getattr(services_or_layout, "layout", services_or_layout)
    source = check_source_directory(source_directory)
    files = list_source_files(source)
    _check_limits(source, files, settings)
    blobs = layout.snapshots_dir / "blobs"
    manifests = layout.snapshots_dir / "manifests"
    make_private_dir(blobs)
    make_private_dir(manifests)
    manifest = {f.rel: [_store_blob(blobs, f.path), f.mode & 0o777] for f in files}
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    snapshot_id = hashlib.sha256(text).hexdigest()
    target = manifests / f"{snapshot_id}.json"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=manifests, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        os.replace(tmp, target)
    return snapshot_id


def read_manifest(layout: WorkspaceLayout, snapshot_id: str) -> dict[str, list[Any]]:
    path = layout.snapshots_dir / "manifests" / f"{snapshot_id}.json"
    try:
        manifest: dict[str, list[Any]] = json.loads(path.read_bytes())
        return manifest
    except FileNotFoundError:
        raise UserErrorException(
            f"Snapshot {snapshot_id!r} is not in this workspace ({path} is missing); "
            "submit the run again to take a new snapshot."
        ) from None


def materialize(layout: WorkspaceLayout, snapshot_id: str, dest: str | os.PathLike[str]) -> Path:
    """Copies the snapshot's files into ``dest`` (copies, never links: the job may
    modify its working copy)."""
    dest = Path(dest)
    blobs = layout.snapshots_dir / "blobs"
    manifest = read_manifest(layout, snapshot_id)  # an unknown id fails before any mkdir
    dest.mkdir(parents=True, exist_ok=True)
    for rel, (sha, mode) in manifest.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(blobs / sha, target)
        os.chmod(target, mode)
    return dest


def restore(layout: WorkspaceLayout, snapshot_id: str, path: str | os.PathLike[str] | None) -> Path:
    """``run.restore_snapshot``: the snapshot's files in ``path`` (default
    ``./<snapshot_id>``), which must not exist yet or be an empty folder."""
    dest = Path(path) if path is not None else Path.cwd() / snapshot_id
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserErrorException(
            f"Cannot restore snapshot {snapshot_id!r} into {str(dest)!r}: it exists and is not "
            "an empty folder. Pass path= a new or empty folder."
        )
    return materialize(layout, snapshot_id, dest)
