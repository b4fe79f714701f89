"""A run's files in the artifact store: list, upload, download, read.

The upload functions use only the artifact store of what they are given, so a job uploads
through ``ArtifactsOnly`` (``job_artifacts``) without opening the workspace's database.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runyard._artifact_names import check_artifact_name
from runyard._services.job_channel import job_artifact_store
from runyard.exceptions import ArtifactExists, ArtifactNotFound, UserErrorException

if TYPE_CHECKING:
    from runyard._config import WorkspaceLayout
    from runyard._store.artifacts import ArtifactStore

log = logging.getLogger(__name__)


class HasArtifacts(Protocol):
    """What the file functions use: ``Services``, or ``ArtifactsOnly`` in a job."""

    @property
    def artifacts(self) -> ArtifactStore: ...


@dataclass(frozen=True, slots=True)
class ArtifactsOnly:
    """The artifact store alone, standing in for Services where no database may open."""

    artifacts: ArtifactStore


def job_artifacts(layout: WorkspaceLayout) -> ArtifactsOnly:
    """The workspace's artifact store for a job process (opens no database): its folder,
    or the job channel on a node of another machine."""
    return ArtifactsOnly(job_artifact_store(layout))


@dataclass(frozen=True, slots=True)
class FolderFiles:
    """What uploading a folder takes: ``files`` as (relative POSIX name, path to read), and
    what it leaves out (links it cannot follow, unreadable folders) as (relative name, why:
    "is a symbolic link that points to ...")."""

    files: list[tuple[str, Path]]
    skipped: list[tuple[str, str]]


def link_problem(link: Path, root: Path, ancestors: Sequence[Path] = ()) -> str | None:
    """Why the symbolic link ``link`` must not be followed from inside the folder whose real
    path is ``root`` (``ancestors``: the real folders walked down to it), or None."""
    shown = os.readlink(link)
    target = Path(os.path.realpath(link))
    if not target.exists():
        return f"points to {shown!r}, which does not exist"
    if not target.is_relative_to(root):
        return f"points to {shown!r} ({target}), outside {root}"
    if target == root or target in ancestors:
        return f"points to {shown!r}, a folder that holds the link (a loop)"
    return None


def folder_files(folder: Path) -> FolderFiles:
    """The files under ``folder``, sorted by name. A symbolic link is followed only when it
    points inside ``folder``: a job's ``outputs/x -> /etc/passwd`` must not put that file
    into the run's history. Entries removed while walking are left out."""
    root = Path(os.path.realpath(folder))
    files: list[tuple[str, Path]] = []
    skipped: list[tuple[str, str]] = []
    stack: list[tuple[Path, str, tuple[Path, ...]]] = [(Path(folder), "", (root,))]
    while stack:
        current, prefix, ancestors = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as exc:
            skipped.append(
                (prefix.rstrip("/"), f"is a folder that cannot be read ({exc.strerror})")
            )
            continue
        for entry in entries:
            rel, path = prefix + entry.name, Path(entry.path)
            try:
                why = link_problem(path, root, ancestors) if entry.is_symlink() else None
                if why is not None:
                    skipped.append((rel, f"is a symbolic link that {why}"))
                elif entry.is_dir():
                    real = Path(os.path.realpath(path))
                    stack.append((path, rel + "/", (*ancestors, real)))
                elif entry.is_file():
                    files.append((rel, path))
            except FileNotFoundError:
                continue
    files.sort()
    skipped.sort()
    return FolderFiles(files, skipped)


def run_key(run_id: str, name: str = "") -> str:
    """Artifact-store key of a run's file (or of the run's folder when name is empty)."""
    return f"runs/{run_id}/{name}"


def list_files(services: HasArtifacts, run_id: str) -> list[str]:
    prefix = run_key(run_id)
    return [k[len(prefix) :] for k in services.artifacts.list(prefix)]


def upload_file(
    services: HasArtifacts, run_id: str, name: str, path_or_stream: Any, *, overwrite: bool = False
) -> str:
    """v1's run.upload_file: a name the run already has is refused (ArtifactExists)."""
    name = check_artifact_name(name)
    if hasattr(path_or_stream, "read"):
        _refuse_existing(services, run_id, [name], overwrite)
        data = path_or_stream.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        _put(services, run_id, name, data, overwrite)
        return name
    src = _existing_file(path_or_stream)
    _put_all(services, run_id, [(name, src)], overwrite)
    return name


def _existing_file(path: Any) -> Path:
    if not isinstance(path, str | Path):
        raise UserErrorException(
            f"Expected a file path or a readable stream, got {type(path).__name__} ({path!r:.80})."
        )
    src = Path(path)
    if not src.is_file():
        raise UserErrorException(
            f"Local file {str(path)!r} does not exist or is not a file; pass the path of an "
            "existing file (relative paths are resolved from the current folder)."
        )
    return src


def _refuse_existing(
    services: HasArtifacts, run_id: str, names: Sequence[str], overwrite: bool
) -> None:
    """Checked before anything is written, so a refused call stores nothing."""
    if overwrite:
        return
    seen: set[str] = set()
    taken = []
    for name in names:
        if name in seen or services.artifacts.exists(run_key(run_id, name)):
            taken.append(name)
        seen.add(name)
    if taken:
        raise ArtifactExists(taken, f"ExperimentRun/dcid.{run_id}")


def _put(
    services: HasArtifacts, run_id: str, name: str, src: Path | bytes, overwrite: bool
) -> None:
    key = run_key(run_id, name)
    try:
        if isinstance(src, bytes):
            services.artifacts.put_bytes(key, src, overwrite=overwrite)
        else:
            services.artifacts.put_file(key, src, overwrite=overwrite)
    except ArtifactExists:  # another process took the name since the check
        raise ArtifactExists([name], f"ExperimentRun/dcid.{run_id}") from None


def _put_all(
    services: HasArtifacts, run_id: str, pairs: Sequence[tuple[str, Path]], overwrite: bool
) -> None:
    _refuse_existing(services, run_id, [n for n, _ in pairs], overwrite)
    for name, src in pairs:
        _put(services, run_id, name, src, overwrite)


def upload_files(
    services: HasArtifacts,
    run_id: str,
    names: Sequence[str],
    paths: Sequence[Any],
    *,
    overwrite: bool = False,
) -> list[str]:
    names, paths = list(names), list(paths)
    if len(names) != len(paths):
        raise UserErrorException(
            f"upload_files got {len(names)} names and {len(paths)} paths; pass one name per "
            "path (names and paths must have the same length)."
        )
    checked = [
        (check_artifact_name(n), _existing_file(p)) for n, p in zip(names, paths, strict=False)
    ]
    _put_all(services, run_id, checked, overwrite)
    return [n for n, _ in checked]


def upload_folder(
    services: HasArtifacts, run_id: str, name: str, path: Any, *, overwrite: bool = False
) -> list[str]:
    """Uploads the folder's files as ``name/<path inside it>`` and returns their names.
    Symbolic links pointing outside the folder are left out, with a logged warning."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserErrorException(
            f"Local folder {str(path)!r} does not exist or is not a folder; pass an existing "
            "folder to upload_folder (use upload_file for a single file)."
        )
    base = check_artifact_name(name)
    found = folder_files(folder)
    pairs = [(check_artifact_name(f"{base}/{rel}"), src) for rel, src in found.files]
    if found.skipped:
        log.warning(
            "upload_folder(%r, %r) left out %d entries: %s. Only what lies inside the folder "
            "and can be read is uploaded; copy those files into the folder to upload them.",
            name,
            str(path),
            len(found.skipped),
            "; ".join(f"{rel} {why}" for rel, why in found.skipped),
        )
    _put_all(services, run_id, pairs, overwrite)
    return [a for a, _ in pairs]


def download_file(
    services: HasArtifacts, run_id: str, name: str, output_file_path: Any = None
) -> Path:
    name = check_artifact_name(name)
    key = run_key(run_id, name)
    if not services.artifacts.exists(key):
        raise ArtifactNotFound(name, f"run {run_id!r}", list_files(services, run_id))
    dest = (
        Path(output_file_path) if output_file_path is not None else Path(posixpath.basename(name))
    )
    if dest.is_dir():
        dest = dest / posixpath.basename(name)
    services.artifacts.get_file(key, dest)
    return dest


def download_files(
    services: HasArtifacts,
    run_id: str,
    *,
    prefix: str | None = None,
    output_directory: Any = None,
    output_paths: Sequence[Any] | None = None,
    append_prefix: bool = True,
) -> list[Path]:
    names = list_files(services, run_id)
    if prefix:
        norm = check_artifact_name(prefix)
        folder = prefix.endswith("/")
        matches = [
            n for n in names if n.startswith(norm + "/") or (not folder and n.startswith(norm))
        ]
    else:
        norm, matches = "", names
    if not matches:
        raise ArtifactNotFound(
            f"{prefix or ''}*", f"run {run_id!r} (no file matches the prefix)", names
        )
    if output_paths is not None:
        targets = [Path(p) for p in output_paths]
        if len(targets) != len(matches):
            raise UserErrorException(
                f"output_paths has {len(targets)} entries but {len(matches)} files match "
                f"prefix {prefix!r}: {matches[:20]}. Pass one path per file, or output_directory."
            )
    else:
        out = Path(output_directory) if output_directory is not None else Path(".")
        targets = [out / _local_name(n, norm, append_prefix) for n in matches]
    for name, dest in zip(matches, targets, strict=False):
        services.artifacts.get_file(run_key(run_id, name), dest)
    return targets


def _local_name(name: str, prefix: str, append_prefix: bool) -> str:
    if append_prefix or not prefix:
        return name
    if name == prefix:
        return posixpath.basename(name)
    if name.startswith(prefix + "/"):
        return name[len(prefix) + 1 :]
    # A partial name such as 'outputs/mod' for 'outputs/model.pkl': strip its folder.
    parent = posixpath.dirname(prefix)
    return name[len(parent) + 1 :] if parent else name


def read_file(services: HasArtifacts, run_id: str, name: str) -> bytes:
    return services.artifacts.read_bytes(run_key(run_id, check_artifact_name(name)))
