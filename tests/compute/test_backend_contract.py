"""One contract for every compute backend in ``runyard._compute.BACKENDS``: a launched job
can be waited on, polled and cancelled (every process of it, detached ones included), and an
agent that did not launch it finds it again with ``reattach``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from runyard import _jobenv
from runyard._compute import BACKENDS
from runyard._compute.base import ComputeBackend, JobHandle, JobSpec
from runyard._compute.job_wrapper import read_status, swept_path

CONFIG = {"min_nodes": 0, "max_nodes": 2, "idle_seconds_before_scaledown": 10}

# The job starts a grandchild in a session of its own that ignores SIGTERM, writes its pid,
# then waits: cancel must still stop both.
DETACHED = """
import os, subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "open('ignoring', 'w').close(); time.sleep(120)"],
    start_new_session=True,
)
while not os.path.exists("ignoring"):
    time.sleep(0.01)
os.makedirs("outputs", exist_ok=True)
open("pids.tmp", "w").write(f"{os.getpid()} {child.pid}")
os.rename("pids.tmp", "outputs/pids.txt")
time.sleep(120)
"""


@pytest.fixture(params=sorted(set(BACKENDS) - {"Ray"}))
def backend(request: pytest.FixtureRequest) -> ComputeBackend:
    """This machine's backends; tests/ray/test_ray_contract.py runs the same tests on the
    Ray backend, on the session's Ray cluster."""
    return BACKENDS[request.param]("target-1", CONFIG, {})


def _spec(backend: ComputeBackend, tmp_path: Path, run_id: str, code: str) -> JobSpec:
    """The job as the agent prepares it: placed on a node of the backend, run in its working
    copy under the job wrapper, its exit status recorded beside it."""
    (tmp_path / "job.py").write_text(code)
    env = {**os.environ, _jobenv.RUN_ID: run_id}
    return JobSpec(
        run_id=run_id,
        argv=(sys.executable, "job.py"),
        cwd=tmp_path,
        env=env,
        driver_log=tmp_path / "driver.log",
        node_id=_placed(backend, run_id),
        status_file=tmp_path / "exit_status.json",
    )


def _placed(backend: ComputeBackend, run_id: str, timeout: float = 60) -> str:
    """The node the backend gives the run, once it has one (a cluster may have to grow)."""
    deadline = time.monotonic() + timeout
    while True:
        now = time.time()
        node = backend.acquire_node(run_id, now).node_id
        if node is not None:
            return node
        assert time.monotonic() < deadline, f"no node for {run_id}"
        backend.tick(now, [run_id], [])
        time.sleep(0.05)


def _job_file(handle: JobHandle, tmp_path: Path, name: str) -> Path | None:
    """A file the job wrote in its ./outputs, once it is back in its working copy."""
    handle.sync()
    path = tmp_path / "outputs" / name
    return path if path.exists() else None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _exit_code(handle: JobHandle, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while (code := handle.wait(0.2)) is None:
        assert time.monotonic() < deadline, "the job did not end"
    return code


def _pids(handle: JobHandle, tmp_path: Path) -> tuple[int, int]:
    """(the job's pid, its detached grandchild's) once DETACHED wrote them."""
    _until(lambda: _job_file(handle, tmp_path, "pids.txt"), 60, "the job to start its grandchild")
    job_pid, grandchild = map(int, (tmp_path / "outputs" / "pids.txt").read_text().split())
    return job_pid, grandchild


def test_a_job_runs_in_its_folder_with_its_output_in_the_driver_log(backend, tmp_path) -> None:
    code = (
        "import os, sys; print('has its script', os.path.exists('job.py')); "
        "print('err', file=sys.stderr); sys.exit(3)"
    )
    handle = backend.launch(_spec(backend, tmp_path, "run-a", code))
    assert _exit_code(handle) == 3
    handle.sync()
    log = (tmp_path / "driver.log").read_text()
    assert "has its script True" in log and "err" in log
    assert not handle.running()
    assert handle.ref.backend == backend.compute_type


def test_a_running_job_is_polled_without_ending_it(backend, tmp_path) -> None:
    handle = backend.launch(_spec(backend, tmp_path, "run-b", "import time; time.sleep(60)"))
    assert handle.wait(0.05) is None and handle.running()
    handle.cancel(force=True)
    assert _exit_code(handle) < 0


def test_cancel_stops_every_process_of_the_job_detached_ones_too(backend, tmp_path) -> None:
    handle = backend.launch(_spec(backend, tmp_path, "run-c", DETACHED))
    job_pid, grandchild = _pids(handle, tmp_path)
    handle.cancel()
    assert _exit_code(handle) < 0  # SIGTERM ended the job itself
    # The grandchild ignores SIGTERM, and still ends with its job.
    _until(lambda: not _alive(grandchild), 10, "the detached grandchild to be killed")
    handle.cancel(force=True)  # safe once the job ended
    assert not handle.running() and not _alive(job_pid)


def test_reattach_finds_a_job_launched_by_another_agent(backend, tmp_path) -> None:
    first = backend.launch(_spec(backend, tmp_path, "run-d", DETACHED))
    job_pid, grandchild = _pids(first, tmp_path)
    again = BACKENDS[first.ref.backend]("target-1", CONFIG, {}).reattach("run-d", first.ref)
    assert again.ref == first.ref
    assert again.running() and again.wait(0.05) is None
    again.cancel(force=True)
    assert _exit_code(first) < 0
    _until(lambda: not _alive(grandchild), 10, "the grandchild to be killed")
    assert not again.running()


def test_cancel_spares_processes_of_other_runs(backend, tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sleep = "import time; time.sleep(60)"
    one = backend.launch(_spec(backend, tmp_path / "a", "run-e", sleep))
    two = backend.launch(_spec(backend, tmp_path / "b", "run-f", sleep))
    one.cancel(force=True)
    assert _exit_code(one) < 0
    assert two.running() and two.wait(0.05) is None
    two.cancel(force=True)
    assert _exit_code(two) < 0


def test_a_wrapped_job_records_its_exit_status_and_leaves_nothing_running(
    backend, tmp_path
) -> None:
    # The job exits 4 once its detached grandchild runs: the grandchild must not outlive it.
    code = DETACHED.rsplit("time.sleep(120)", 1)[0] + "sys.exit(4)\n"
    spec = _spec(backend, tmp_path, "run-g", code)
    handle = backend.launch(spec)
    assert _exit_code(handle) == 4
    handle.sync()
    assert spec.status_file is not None and read_status(spec.status_file) == 4
    assert Path(swept_path(spec.status_file)).exists()  # nothing of the job is left
    grandchild = int((tmp_path / "outputs" / "pids.txt").read_text().split()[1])
    _until(lambda: not _alive(grandchild), 10, "the job's leftover process to be killed")


def test_a_wrapped_job_cancelled_records_the_signal(backend, tmp_path) -> None:
    code = "import os, time\nos.makedirs('outputs')\nopen('outputs/started', 'w').close()\n"
    spec = _spec(backend, tmp_path, "run-h", code + "time.sleep(60)\n")
    handle = backend.launch(spec)
    _until(lambda: _job_file(handle, tmp_path, "started"), 60, "the job to start")
    handle.cancel()
    assert _exit_code(handle) == -15
    handle.sync()
    assert spec.status_file is not None and read_status(spec.status_file) == -15
