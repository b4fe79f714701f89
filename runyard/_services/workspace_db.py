"""The workspace's SQLite database as a file: check it, back it up, restore a backup.

These take the layout, not Services: they must work on a database the store refuses to
open (that is when they are needed), and never open it for writing through SQLAlchemy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from runyard._config import Settings, WorkspaceLayout
from runyard._services.agent_client import agent_pid
from runyard._store import sqlite_file
from runyard._store.migrations import HEAD_REVISION, KNOWN_REVISIONS
from runyard.exceptions import StoreCorrupt, StoreSchemaUnknown, UserErrorException

BEFORE_RESTORE = "runyard.db.before-restore"


@dataclass(frozen=True, slots=True)
class DatabaseCheck:
    """``problems`` is empty for a sound database at a revision this Runyard knows."""

    path: Path
    size: int
    revision: str | None
    head: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class Restored:
    path: Path
    source: Path
    kept: Path | None  # the replaced database, None when there was none
    revision: str


def database_path(layout: WorkspaceLayout, settings: Settings, what: str) -> Path:
    """The SQLite file of the workspace's store; PostgreSQL stores are refused by name."""
    uri = layout.store_uri(settings)
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        raise UserErrorException(
            f"`runyard workspace {what}` is not supported for PostgreSQL stores; use pg_dump "
            "(and pg_restore) on the database RUNYARD_STORE_URI names."
        )
    return Path(uri[len(prefix) :].split("?", 1)[0]).expanduser()


def check_database(layout: WorkspaceLayout, settings: Settings) -> DatabaseCheck:
    """PRAGMA integrity_check and the schema revision, without writing the database."""
    path = database_path(layout, settings, "check")
    health = sqlite_file.inspect(path)
    problems = list(health.problems)
    if not problems:
        problems.extend(_revision_problems(health.revision))
    return DatabaseCheck(path, health.size, health.revision, HEAD_REVISION, tuple(problems))


def _revision_problems(revision: str | None) -> list[str]:
    if revision is None:
        return ["it has no schema revision (no alembic_version row): not a Runyard database"]
    if revision not in KNOWN_REVISIONS:
        return [
            f"its schema revision {revision!r} is unknown to this Runyard (written by a newer "
            "one): upgrade with `pip install -U runyard`"
        ]
    return []


def backup_database(layout: WorkspaceLayout, settings: Settings, dest: Path) -> Path:
    """A consistent copy of the database at ``dest`` (a new file, or a folder to put
    ``<workspace>-<UTC time>.runyard.db`` in), taken while the agent may be writing."""
    path = database_path(layout, settings, "backup")
    sqlite_file.refuse_damaged(path)
    if not path.exists():
        raise UserErrorException(
            f"There is no database to back up at {path}: the workspace has never been opened."
        )
    dest = Path(dest).expanduser().absolute()
    if dest.is_dir():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        dest = dest / f"{layout.root.name}-{stamp}.runyard.db"
    if dest.exists():
        raise UserErrorException(
            f"The backup file {dest} exists already; a backup never writes over a file. "
            "Pass a new file name, or a folder to write a dated file into."
        )
    if not dest.parent.is_dir():
        raise UserErrorException(
            f"The folder {dest.parent} of the backup {dest} does not exist; create it first."
        )
    sqlite_file.backup(path, dest)
    health = sqlite_file.inspect(dest)
    if health.problems:
        dest.unlink()
        raise StoreCorrupt(str(path), "is damaged: " + "; ".join(health.problems[:3]))
    return dest


def restore_database(layout: WorkspaceLayout, settings: Settings, source: Path) -> Restored:
    """Replaces the workspace's database with the backup ``source``, once the backup is
    checked and no agent runs; the replaced database is kept as runyard.db.before-restore."""
    path = database_path(layout, settings, "restore")
    source = Path(source).expanduser().absolute()
    if not source.is_file():
        raise UserErrorException(f"The backup {source} does not exist or is not a file.")
    if path.exists() and source.samefile(path):
        raise UserErrorException(f"{source} is the workspace's database itself, not a backup.")
    pid = agent_pid(layout)
    if pid is not None:
        raise UserErrorException(
            f"The agent of the workspace at {layout.root} runs (pid {pid}) and writes {path}; "
            f"a restore now would lose its writes. Stop it with `runyard agent stop -w "
            f"{layout.root.name}`, then restore again. Nothing was changed."
        )
    revision = _checked_backup(source, path)
    kept, in_place = _keep_current(path)
    if in_place:
        # The current database is sound: write the backup into it through SQLite, so a
        # process that still has it open sees the old or the new database, never a mix.
        sqlite_file.copy_into(source, path)
    else:
        tmp = path.with_name(f".{path.name}.restoring-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        sqlite_file.backup(source, tmp)
        os.replace(tmp, path)
    return Restored(path, source, kept, revision)


def _checked_backup(source: Path, path: Path) -> str:
    health = sqlite_file.inspect(source)
    if health.problems:
        raise UserErrorException(
            f"The backup {source} is damaged: {'; '.join(health.problems[:3])}. Nothing was "
            f"changed in {path}. Restore another backup."
        )
    if health.revision is not None and health.revision not in KNOWN_REVISIONS:
        raise StoreSchemaUnknown(str(source), health.revision)
    if health.revision is None:
        raise UserErrorException(
            f"{source} is a SQLite database but not a Runyard one (it has no alembic_version "
            f"row). Nothing was changed in {path}. Restore a file `runyard workspace backup` "
            "wrote."
        )
    return health.revision


def _keep_current(path: Path) -> tuple[Path | None, bool]:
    """Keeps what ``path`` holds before it is replaced: a sound database is copied whole
    (its log included) to runyard.db.before-restore and stays in place; a damaged one is
    moved there as it is, its -wal beside it. Returns (where it was kept, None when there
    was nothing; whether the current database stays in place)."""
    wal = sqlite_file.wal_path(path)
    if not path.exists() and not wal.exists():
        return None, False
    kept = _free_name(path.with_name(BEFORE_RESTORE))
    if path.exists() and not sqlite_file.inspect(path).problems:
        sqlite_file.backup(path, kept)
        return kept, True
    if path.exists():
        os.replace(path, kept)
    if wal.exists():
        os.replace(wal, kept.with_name(kept.name + "-wal"))
    sqlite_file.shm_path(path).unlink(missing_ok=True)
    return kept, False


def _free_name(wanted: Path) -> Path:
    """``wanted``, or ``wanted.1``, ``wanted.2`` ... : an earlier restore's file is kept."""
    candidate, n = wanted, 0
    while candidate.exists():
        n += 1
        candidate = wanted.with_name(f"{wanted.name}.{n}")
    return candidate
