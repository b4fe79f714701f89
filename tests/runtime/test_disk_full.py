"""A full disk on the job's side: ``run.log`` raises DiskFull naming the spool and the free
space, nothing half-written reaches the reader, and logging goes on once there is space."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runyard
from runyard._spool import SpoolWriter, read_records
from runyard.core.run_context import _SubmittedRun
from runyard.exceptions import DiskFull
from tests.conftest import skip_without_private_mounts

pytestmark = pytest.mark.timeout(120)


def test_run_log_on_a_device_with_no_space_raises_disk_full(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC: the spool's first record cannot be kept.
    run = _SubmittedRun(None, "run-1", "/dev/full", str(tmp_path))
    with pytest.raises(DiskFull) as caught:
        run.log("loss", 0.5)
    message = str(caught.value)
    assert "The disk is full" in message and "'/dev/full'" in message
    assert "metric record" in message and "RUNYARD_HOME" in message
    with pytest.raises(DiskFull):
        run.log_list("curve", [1, 2, 3])
    with pytest.raises(DiskFull):
        run.set_tags({"a": "b"})


# Runs inside a private mount namespace with a 256 KB tmpfs at argv[1].
SCENARIO = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from runyard._spool import SpoolWriter, read_records
    from runyard.exceptions import DiskFull

    disk = Path(sys.argv[1])
    filler = disk / "filler"
    filler.write_bytes(b"x" * 65536)
    spool = disk / "spool.jsonl"
    writer = SpoolWriter(spool)
    kept, error = [], None
    for i in range(10_000):  # records of ~3 KB: the last one straddles the last page
        try:
            writer.record(f"m{i}", "t", {"i": i, "pad": "p" * 3000})
        except DiskFull as exc:
            error = str(exc)
            break
        kept.append(i)
    size_at_full = spool.stat().st_size
    filler.unlink()  # space again
    for i in range(5):
        writer.scalar("after", float(i))
    writer.close()
    records, end = read_records(spool, 0)
    print(json.dumps({
        "error": error, "kept": kept, "end": end, "size": spool.stat().st_size,
        "size_at_full": size_at_full,
        "read": [r["v"]["i"] for r in records if r["n"].startswith("m")],
        "after": [r["v"] for r in records if r["n"] == "after"],
    }))
    """
)


def test_a_spool_write_cut_short_by_a_full_disk_leaves_only_whole_records(tmp_path) -> None:
    skip_without_private_mounts()
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "scenario.py").write_text(SCENARIO)
    repo = str(Path(runyard.__file__).resolve().parents[1])
    cmd = (
        f"mount --make-rprivate / && mount -t tmpfs -o size=256k tmpfs {disk} && "
        f"exec {sys.executable} {tmp_path / 'scenario.py'} {disk}"
    )
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", cmd],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": repo}, timeout=100,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["error"] is not None, "the disk never filled"
    assert "The disk is full" in result["error"] and "spool.jsonl" in result["error"]
    assert "free of" in result["error"]  # the free space of that file system is named
    assert result["kept"], result
    # Every record whose call returned is read back, in order, and nothing else of the
    # failed call: its cut-short bytes were blanked (or dropped), not left for the reader.
    assert result["read"] == result["kept"]
    assert result["after"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert result["end"] == result["size"]


def test_reader_skips_blank_lines_and_reads_records_longer_than_its_chunk(tmp_path) -> None:
    spool = tmp_path / "spool.jsonl"
    writer = SpoolWriter(spool)
    writer.scalar("a", 1.0)
    writer.close()
    with spool.open("ab") as f:  # what _blank_out leaves of a cut-short record
        f.write(b" " * 40 + b"\n")
    writer = SpoolWriter(spool)
    writer.record("big", "t", {"pad": "x" * 5000})
    writer.scalar("a", 2.0)
    writer.close()
    records, end = [], 0
    while True:  # as the ingester reads: chunk by chunk until the offset stops moving
        batch, new_end = read_records(spool, end, max_bytes=1024)
        if new_end == end:
            break
        records, end = records + batch, new_end
    assert [r["n"] for r in records] == ["a", "big", "a"]
    assert end == spool.stat().st_size
