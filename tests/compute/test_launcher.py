"""The job launcher: one long-lived process forks every local job's wrapper, and the jobs
outlive it (their wrappers still record how they ended)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from runyard import _jobenv
from runyard._compute import launcher
from runyard._compute.base import JobHandle, JobSpec
from runyard._compute.job_wrapper import read_status
from runyard._compute.local import LocalMachineBackend

pytestmark = pytest.mark.skipif(not launcher.available(), reason="the launcher needs pidfds")


def _spec(folder: Path, run_id: str, code: str) -> JobSpec:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.py").write_text(code)
    return JobSpec(
        run_id=run_id,
        argv=(sys.executable, "job.py"),
        cwd=folder,
        env={**os.environ, _jobenv.RUN_ID: run_id, "JOB_ONLY": "yes"},
        driver_log=folder / "driver.log",
        status_file=folder / "exit_status.json",
    )


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _exit_code(handle: JobHandle, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while (code := handle.wait(0.2)) is None:
        assert time.monotonic() < deadline, "the job did not end"
    return code


def _until_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.02)


def test_jobs_wrappers_are_forked_by_one_launcher_and_get_the_jobs_environment(tmp_path) -> None:
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    code = (
        "import os, sys\n"
        "print('env', os.environ['JOB_ONLY'], 'stdin', repr(sys.stdin.read()))\n"
        "open('started', 'w').close()\n"
        "import time; time.sleep(60)\n"
    )
    one = backend.launch(_spec(tmp_path / "a", "run-l1", code))
    two = backend.launch(_spec(tmp_path / "b", "run-l2", code))
    for folder in ("a", "b"):
        _until_file(tmp_path / folder / "started")
    wrappers = [int(one.ref.job_id), int(two.ref.job_id)]
    # A wrapper leads the job's session; both wrappers are children of the same launcher.
    assert [os.getsid(w) for w in wrappers] == wrappers
    assert _parent(wrappers[0]) == _parent(wrappers[1]) != os.getpid()
    one.cancel()
    two.cancel(force=True)
    assert _exit_code(one) == -signal.SIGTERM
    assert read_status(tmp_path / "a" / "exit_status.json") == -signal.SIGTERM
    assert _exit_code(two) == -signal.SIGKILL  # the wrapper died too: no status, killed
    assert "env yes stdin ''" in (tmp_path / "a" / "driver.log").read_text()


def test_a_job_outlives_its_launcher_and_a_new_launcher_takes_the_next_job(tmp_path) -> None:
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    code = "import sys, time\nopen('started', 'w').close()\ntime.sleep(1)\nsys.exit(5)\n"
    first = backend.launch(_spec(tmp_path / "a", "run-l3", code))
    _until_file(tmp_path / "a" / "started")
    old = _parent(int(first.ref.job_id))
    os.kill(old, signal.SIGKILL)
    assert _exit_code(first) == 5  # recorded by its wrapper, seen on the pidfd
    second = backend.launch(_spec(tmp_path / "b", "run-l4", code.replace("exit(5)", "exit(6)")))
    _until_file(tmp_path / "b" / "started")
    assert _parent(int(second.ref.job_id)) not in (old, os.getpid())
    assert _exit_code(second) == 6


def test_a_job_that_cannot_start_fails_with_the_reason_in_its_driver_log(tmp_path) -> None:
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    spec = dataclasses.replace(_spec(tmp_path / "a", "run-l5", ""), argv=("/no/python",))
    handle = backend.launch(spec)
    assert _exit_code(handle) == 1
    log = (tmp_path / "a" / "driver.log").read_text()
    assert "Runyard: the job's wrapper failed:" in log and "/no/python" in log
