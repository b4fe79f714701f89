"""The append-only metric spool a job writes and the supervisor ingests.

One record per line, newline-delimited JSON (NaN / Infinity spelled as Python's json
module reads them back). Each record goes out with ONE ``os.write`` on an ``O_APPEND`` file
descriptor: once ``run.log`` returns, the record is in the kernel's page cache, so a
``kill -9`` of the job right after loses nothing. A half-written last line (a crash inside
the write itself) is never returned by the reader, which only hands out complete lines.
A write the full disk cut short is blanked out (spaces and a newline over its bytes) before
``DiskFull`` is raised, so the records written after it still start on a line of their own.

Record keys: ``n`` name, ``k`` kind (s scalar, l list, t table, i image), ``v`` value,
``t`` time, ``s`` step, ``d`` description; or ``tags`` / ``props`` for tag and property
changes. Light on purpose: job processes import it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard._metric_values import check_metric_name, check_scalar
from runyard.exceptions import DiskFull

log = logging.getLogger(__name__)

SCALAR, LIST, TABLE, IMAGE = "s", "l", "t", "i"
_READ_CHUNK = 16 * 1024 * 1024
_FULL = (errno.ENOSPC, errno.EDQUOT)
_WHAT = "a metric record (this call's value was not kept; the ones logged before it are)"


def _encode(value: Any) -> str:
    # json.dumps writes NaN/Infinity/-Infinity for the specials, which json.loads reads back.
    return json.dumps(value, separators=(",", ":"))


class SpoolWriter:
    """Appends records to one run's spool. Thread-safe without locks: every record is
    one os.write on an O_APPEND descriptor, which the kernel keeps whole."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # (name, description) -> the record's text up to the value; built once per name.
        self._prefixes: dict[tuple[str, str], str] = {}

    def _prefix(self, name: str, description: str, kind: str) -> str:
        check_metric_name(name)
        text = f'{{"n":{_encode(name)},"k":"{kind}",'
        if description:
            text += f'"d":{_encode(str(description))},'
        return text + '"v":'

    def _write(self, text: str) -> None:
        data = text.encode()
        try:
            written = os.write(self._fd, data)
        except OSError as exc:
            if exc.errno in _FULL:
                raise DiskFull(str(self.path), _WHAT) from exc
            raise
        # Regular files take a whole write at once, short only when the disk is full. Not
        # finishing it with a second write: another writer's record could land between.
        if written < len(data):
            if written:
                self._blank_out(written)
            raise DiskFull(str(self.path), _WHAT)

    def _blank_out(self, written: int) -> None:
        """Overwrites the ``written`` bytes of a cut-short record, which end at this
        descriptor's offset, with spaces and a newline: a line the reader skips."""
        end = os.lseek(self._fd, 0, os.SEEK_CUR)
        # pwrite on an O_APPEND descriptor appends (Linux), so repair through another one.
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, b" " * (written - 1) + b"\n", end - written)
        except OSError:
            # A copy-on-write file system may need space to overwrite: drop the bytes
            # instead, when nobody appended after them.
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, end - written)
        finally:
            os.close(fd)

    def scalar(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """run.log's fast path: floats and ints skip json.dumps."""
        key = (name, description)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = self._prefix(name, description, SCALAR)
        kind = type(value)
        if (kind is float and value - value == 0.0) or kind is int:
            enc = repr(value)
        else:
            enc = _encode(check_scalar(name, value, method="log"))
        if step is None:
            self._write(f'{prefix}{enc},"t":{time.time()!r}}}\n')
        else:
            self._write(f'{prefix}{enc},"t":{time.time()!r},"s":{int(step)}}}\n')

    def record(self, name: str, kind: str, value: Any, description: str = "") -> None:
        """A list, table row(s) or image record; value is already checked."""
        prefix = self._prefix(name, description or "", kind)
        self._write(f'{prefix}{_encode(value)},"t":{time.time()!r}}}\n')

    def tags(self, tags: Mapping[str, str | None]) -> None:
        self._write(_encode({"tags": dict(tags)}) + "\n")

    def properties(self, properties: Mapping[str, str]) -> None:
        self._write(_encode({"props": dict(properties)}) + "\n")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_records(
    path: str | os.PathLike[str], offset: int, *, max_bytes: int = _READ_CHUNK
) -> tuple[list[dict[str, Any]], int]:
    """Complete records after ``offset`` and the offset just past the last one.

    Reads at most ``max_bytes`` (call again until the offset stops moving). A missing
    spool reads as empty."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(max_bytes)
            more = data
            while len(more) == max_bytes and b"\n" not in more:  # a record over max_bytes
                more = f.read(max_bytes)
                data += more
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    body = data[:end]
    try:
        # One json.loads of the whole chunk as an array: 3x faster than one per line.
        # (Decoded to str first: json.loads of bytes detects the encoding, ~10% slower.)
        records: list[dict[str, Any]] = json.loads("[" + body.decode().replace("\n", ",") + "]")
    except ValueError:  # a blanked-out or damaged line somewhere: go line by line
        records = _read_lines(body, path)
    return records, offset + end + 1


def _read_lines(body: bytes, path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    records = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            # Only a torn write on a crashed disk could do this; keep the rest going.
            log.warning("skipping a damaged spool record in %s: %.200r", path, line)
    return records
