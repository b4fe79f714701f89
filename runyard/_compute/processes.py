"""Jobs as processes of this machine: start one, watch it, stop all of it.

A job's process starts in a session of its own, with the run id in its environment
(``AZUREML_RUN_ID``). Every process it starts inherits that variable, so "every process of
the job" is found even for descendants that left its session or were reparented to pid 1:
the session's group, plus each process whose environment carries the run id. A job given a
``status_file`` runs under ``job_wrapper.py`` (a child subreaper that records its exit status
durably and kills what it left running).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from runyard import _jobenv
from runyard._compute.base import JobHandle, JobSpec
from runyard._config import user_umask
from runyard._entities import JobRef

_PROC = Path("/proc")
_WRAPPER = str(Path(__file__).with_name("job_wrapper.py"))


def process_of_run(pid: int, run_id: str) -> bool:
    """True when ``pid`` is alive and belongs to that run's job (a reused pid does not)."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return f"{_jobenv.RUN_ID}={run_id}".encode() in environ.split(b"\0")


def processes_of_run(run_id: str) -> list[int]:
    """Every live process whose environment carries the run id, this one excepted (an agent
    started from inside a job inherits that job's variables)."""
    own = os.getpid()
    found = []
    for entry in _PROC.iterdir():
        pid = int(entry.name) if entry.name.isdigit() else own
        if pid != own and process_of_run(pid, run_id):
            found.append(pid)
    return found


def signal_job(run_id: str, leader: int, sig: int) -> None:
    """Sends ``sig`` to the job's process group (while its leader is the run's: a pid can be
    reused once the leader is reaped) and to every process of the run."""
    if process_of_run(leader, run_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, sig)
    for pid in processes_of_run(run_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class LocalJobHandle(JobHandle):
    """A job started here (``popen`` set) or found again after an agent restart."""

    def __init__(
        self, backend: str, run_id: str, pid: int, popen: subprocess.Popen[bytes] | None
    ) -> None:
        self._ref = JobRef(backend=backend, job_id=str(pid))
        self.run_id, self.pid, self._popen = run_id, pid, popen
        self._pidfd: int | None = None

    @property
    def ref(self) -> JobRef:
        return self._ref

    def wait(self, timeout: float) -> int | None:
        if self._popen is None:
            return None
        code = self._popen.poll()
        if code is None and self._wait_pidfd(timeout):
            code = self._popen.poll()
        elif code is None and self._pidfd is None:
            try:
                code = self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        if code is not None and self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = -1  # closed: never opened again
        return code

    def _wait_pidfd(self, timeout: float) -> bool:
        """Waits for the process's exit on a pidfd (Linux): the exit is seen at once, where
        Popen.wait(timeout) polls every few tens of ms. False without pidfds."""
        if self._pidfd is None:
            try:
                self._pidfd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):  # not Linux >= 5.3, or the process is gone
                return False
        if self._pidfd < 0:
            return False
        ready, _, _ = select.select([self._pidfd], [], [], timeout)
        return bool(ready)

    def running(self) -> bool:
        if self._popen is not None and self._popen.poll() is None:
            return True
        return bool(processes_of_run(self.run_id))

    def cancel(self, *, force: bool = False) -> None:
        signal_job(self.run_id, self.pid, signal.SIGKILL if force else signal.SIGTERM)


class LocalProcesses:
    """``launch`` and ``reattach`` for backends whose nodes are slots of this machine."""

    compute_type: str

    def launch(self, job: JobSpec) -> JobHandle:
        argv = list(job.argv)
        if job.status_file is not None:
            # -S -E: the wrapper is standard library only, and starts fast whatever the
            # job's PYTHONPATH holds; the job itself gets its environment unchanged.
            argv = [sys.executable, "-S", "-E", _WRAPPER, str(job.status_file), "--", *argv]
        with open(job.driver_log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=job.cwd,
                env=dict(job.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                umask=user_umask(),  # the agent's is private; the job's files are the user's
            )
        return LocalJobHandle(self.compute_type, job.run_id, popen.pid, popen)

    def reattach(self, run_id: str, ref: JobRef) -> JobHandle:
        return LocalJobHandle(self.compute_type, run_id, int(ref.job_id), None)
