"""What is in the environment cache, and pruning it (``runyard envs list|prune``)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from runyard._envs.builder import MARKER
from runyard._envs.resolution import RECORD_SUFFIX, record_key


@dataclass(frozen=True, slots=True)
class CachedEnv:
    spec_hash: str  # the environment key: its folder's name
    definition_hash: str  # EnvSpec.hash of the definition it was built for
    path: Path
    python_version: str
    requirements: tuple[str, ...]
    built_at: float  # seconds since the epoch
    last_used: float  # the marker's mtime, touched on every cache hit
    build_seconds: float


def list_envs(envs_root: Path) -> list[CachedEnv]:
    """Built environments, most recently used first. Half-built ones are not listed."""
    found: list[CachedEnv] = []
    if not envs_root.is_dir():
        return found
    for entry in envs_root.iterdir():
        marker = entry / MARKER
        if entry.name.startswith(".") or not marker.is_file():
            continue
        data = json.loads(marker.read_text(encoding="utf-8"))
        found.append(
            CachedEnv(
                spec_hash=entry.name,
                definition_hash=data.get("definition_hash", entry.name),
                path=entry,
                python_version=data.get("python_version", ""),
                requirements=tuple(data.get("spec", {}).get("requirements", ())),
                built_at=float(data.get("built_at", 0.0)),
                last_used=marker.stat().st_mtime,
                build_seconds=float(data.get("build_seconds", 0.0)),
            )
        )
    return sorted(found, key=lambda e: e.last_used, reverse=True)


def prune(
    envs_root: Path,
    *,
    keep_hashes: frozenset[str] | set[str] = frozenset(),
    older_than_seconds: float | None = None,
    now: float | None = None,
) -> list[str]:
    """Removes cached environments; returns the removed hashes.

    Without ``older_than_seconds`` every environment not in ``keep_hashes`` goes; with it,
    only those unused for that long. The caller passes the definition hashes
    (``EnvSpec.hash``) of running jobs, or environment keys, in ``keep_hashes``. An
    environment whose definition is being built (its lock held) is skipped, and leftovers
    of killed builds and resolution records of removed environments go too.
    """
    removed: list[str] = []
    if not envs_root.is_dir():
        return removed
    now = time.time() if now is None else now
    for env in list_envs(envs_root):
        if env.spec_hash in keep_hashes or env.definition_hash in keep_hashes:
            continue
        if older_than_seconds is not None and now - env.last_used < older_than_seconds:
            continue
        if _remove_unlocked(envs_root, env.definition_hash, env.path):
            removed.append(env.spec_hash)
    for stale in envs_root.glob(".*.tmp-*"):
        spec_hash = stale.name[1:].split(".tmp-", 1)[0]
        _remove_unlocked(envs_root, spec_hash, stale)
    for record in envs_root.glob(f"*{RECORD_SUFFIX}"):
        key = record_key(record)
        if key is None or not (envs_root / key / MARKER).is_file():
            record.unlink(missing_ok=True)
    for torn in envs_root.glob(".*.resolution-*"):  # a record write that was killed
        if now - torn.stat().st_mtime > 3600:
            torn.unlink(missing_ok=True)
    return removed


def _remove_unlocked(envs_root: Path, spec_hash: str, path: Path) -> bool:
    lock = envs_root / f"{spec_hash}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        # Rename first: the marker vanishes at once, so no reader sees a half-removed env.
        doomed = envs_root / f".{spec_hash}.removing-{os.getpid()}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return False
        shutil.rmtree(doomed, ignore_errors=True)
        return True
    finally:
        os.close(fd)
