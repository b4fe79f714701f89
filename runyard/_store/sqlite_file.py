"""The SQLite file itself, below SQLAlchemy: is it a whole database, may this process write
it, how to read it without writing, its integrity, online backups. Standard library only.

A database is never re-created over: SQLite turns a 0-byte file into a new empty database
without a word, so a new one is made under a temporary name and published with a hard link
(which fails when the name exists); a 0-byte ``runyard.db`` is then never ours, and refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from runyard.exceptions import DiskFull, StoreCorrupt, StoreReadOnly

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
BUSY_TIMEOUT_S = 60
CORRUPT_MESSAGES = ("malformed", "not a database", "file is encrypted")


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def shm_path(path: Path) -> Path:
    return path.with_name(path.name + "-shm")


def _has_wal(path: Path) -> bool:
    try:
        return wal_path(path).stat().st_size > 0
    except FileNotFoundError:
        return False


def damage(path: Path) -> str | None:
    """What makes ``path`` no whole SQLite database, from its size and header (None when
    nothing is seen; SQLite finds the rest as it reads)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if _has_wal(path):
            return (
                f"is missing while its write-ahead log {wal_path(path)} remains (the recent "
                "writes are in that log, the rest of the database is gone)"
            )
        return None
    if size == 0:
        return "is empty (0 bytes): its contents were lost, it is not a new database"
    with path.open("rb") as file:
        header = file.read(HEADER_SIZE)
    if not header.startswith(MAGIC[: len(header)]) or len(header) < len(MAGIC):
        return f"is not a SQLite database: its first bytes are {header[:16]!r}"
    if len(header) < HEADER_SIZE:
        return f"is truncated: {size} bytes, shorter than a SQLite header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counted = header[24:28] == header[92:96] and pages > 0
    # With a live write-ahead log a checkpoint may be extending the file right now (page 1
    # is copied first), so the size is only compared when everything is in the file.
    if counted and not _has_wal(path) and size < pages * page_size:
        return (
            f"is truncated: its header counts {pages} pages of {page_size} bytes "
            f"({pages * page_size} bytes) but the file has {size} bytes"
        )
    return None


def refuse_damaged(path: Path) -> None:
    """Raises StoreCorrupt when ``path``'s size or header shows it is not a whole database."""
    problem = damage(path)
    if problem is not None:
        raise StoreCorrupt(str(path), problem)


def write_problem(path: Path) -> str | None:
    """Why this process cannot write the database at ``path`` (None when it can): the file,
    and its folder (SQLite creates the -wal and -shm files there)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file {path} is not writable {_why(path)}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable {_why(folder)}"
    return None


def _why(path: Path) -> str:
    with contextlib.suppress(OSError):
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "(it is on a read-only file system)"
    return f"(permission denied to user id {os.geteuid()})"


def read_only_uri(path: Path) -> str:
    """A sqlite3 URI (``uri=True``) reading ``path`` without writing anything.

    A reader of a WAL database needs the -shm file: ``mode=ro`` uses the -wal/-shm files
    when they exist (and reads the log's recent writes), or creates them in a writable
    folder. In a read-only folder without them there is no log, everything is in the main
    file, and only ``immutable=1`` opens it (SQLite then takes no locks, which is right
    because nobody can write there).
    """
    query = "mode=ro"
    if write_problem(path) is not None and not wal_path(path).exists():
        query += "&immutable=1"
    return f"file:{quote(str(path))}?{query}"


def create_new(path: Path) -> None:
    """Makes an empty WAL database at ``path`` unless a file is there (a racing process may
    publish first: its database is kept)."""
    tmp = path.with_name(f".{path.name}.new-{uuid.uuid4().hex[:12]}")
    try:
        connection = sqlite3.connect(tmp)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        finally:
            connection.close()
        with contextlib.suppress(FileExistsError):
            _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _publish(tmp: Path, dest: Path) -> None:
    """``tmp`` appears as ``dest``, whole; FileExistsError when ``dest`` exists."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise
    except OSError as exc:
        # A file system without hard links (some network and FUSE mounts): a rename after
        # a check, which only a process racing within that instant could defeat.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if dest.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(dest)) from None
        os.rename(tmp, dest)


@contextlib.contextmanager
def _connect(uri: str) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        yield connection
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class Health:
    """What ``inspect`` found: the problems (none for a sound database), the schema
    revision (None when there is no alembic_version table) and the file's size."""

    path: Path
    problems: tuple[str, ...]
    revision: str | None
    size: int


def inspect(path: Path) -> Health:
    """PRAGMA integrity_check and the schema revision of the database at ``path``, read
    without writing it."""
    if not path.exists():
        return Health(path, (f"{path} does not exist",), None, 0)
    size = path.stat().st_size
    problem = damage(path)
    if problem is not None:
        return Health(path, (f"{path} {problem}",), None, size)
    try:
        with _connect(read_only_uri(path)) as connection:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
            problems = tuple(str(r[0]) for r in rows if r[0] != "ok")
            revision = _revision(connection) if not problems else None
    except sqlite3.DatabaseError as exc:
        return Health(path, (f"{path}: {exc}",), None, size)
    return Health(path, problems, revision, size)


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


def backup(source: Path, dest: Path) -> None:
    """Copies the database at ``source`` into the new file ``dest`` with SQLite's online
    backup API: one consistent snapshot, taken in one read transaction, so writers go on
    (WAL) and are never half in the copy. ``dest`` appears only once complete."""
    tmp = dest.with_name(f".{dest.name}.part-{uuid.uuid4().hex[:12]}")
    try:
        with _connect(read_only_uri(source)) as src, _connect(f"file:{quote(str(tmp))}") as dst:
            # pages=-1: all at once. Stepwise copies restart whenever the source is written,
            # so under a busy agent they might never end.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
        _fsync(tmp)
        _publish(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def copy_into(source: Path, dest: Path) -> None:
    """Replaces the contents of the live database ``dest`` with ``source``'s, through the
    backup API: one write transaction on ``dest``, so processes that have it open see the
    old or the new database, never a mix, and its write-ahead log stays its own."""
    with _connect(read_only_uri(source)) as src, _connect(f"file:{quote(str(dest))}") as dst:
        src.backup(dst, pages=-1)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def translate(exc: sqlite3.Error, path: Path) -> StoreCorrupt | StoreReadOnly | DiskFull | None:
    """Our error for a sqlite3 error that means a damaged, unwritable or full file, else None."""
    message = str(exc)
    if "database or disk is full" in message:  # SQLITE_FULL: the transaction was rolled back
        return DiskFull(str(path), "a write to the workspace database (nothing of it was kept)")
    if isinstance(exc, sqlite3.DatabaseError) and any(m in message for m in CORRUPT_MESSAGES):
        return StoreCorrupt(str(path), f"is damaged (SQLite: {message})")
    if "readonly database" in message or "unable to open database file" in message:
        problem = write_problem(path)
        if problem is not None:
            return StoreReadOnly(str(path), problem)
    return None
