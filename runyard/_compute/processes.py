"""Jobs as processes of this machine: start one, watch it, stop all of it.

A job's process starts in a session of its own, with the run id in its environment
(``AZUREML_RUN_ID``). Every process it starts inherits that variable, so "every process of
the job" is found even for descendants that left its session or were reparented to pid 1:
the session's group, plus each process whose environment carries the run id. A job given a
``status_file`` runs under a wrapper (``job_wrapper.py``: a child subreaper that records its
exit status durably and kills what it left running), forked by the agent's launcher
(``launcher.py``) where it can be; the wrapper leads the job's session, and its pid is the
job's.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from runyard import _jobenv
from runyard._compute import gang, launcher
from runyard._compute.base import JobHandle, JobSpec
from runyard._compute.job_wrapper import read_status, swept_path
from runyard._config import user_umask
from runyard._entities import JobRef


def _has_variable(pid: int, entry: bytes) -> bool:
    """True when the process's environment holds ``entry`` (``NAME=value``) exactly."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    # entry in environ.split(b"\0"), without splitting every process's environment
    framed = b"\0" + entry
    return (
        framed + b"\0" in environ
        or environ.startswith(entry + b"\0")
        or environ.endswith(framed)
        or environ == entry
    )


def process_of_run(pid: int, run_id: str) -> bool:
    """True when ``pid`` is alive and belongs to that run's job (a reused pid does not)."""
    return _has_variable(pid, f"{_jobenv.RUN_ID}={run_id}".encode())


def processes_of_run(run_id: str) -> list[int]:
    """Every live process whose environment carries the run id, this one excepted (an agent
    started from inside a job inherits that job's variables)."""
    own = os.getpid()
    entry = f"{_jobenv.RUN_ID}={run_id}".encode()
    # Plain strings, not Paths: this reads every process of the machine at each run's end.
    return [
        pid
        for name in os.listdir("/proc")
        if name.isdigit() and (pid := int(name)) != own and _has_variable(pid, entry)
    ]


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state, ppid, pgrp, ... (None: no such pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def is_process(pid: int, started: str) -> bool:
    """True while ``pid`` is the live process that started at ``started`` (clock ticks after
    boot, from /proc), not a later one given the same pid."""
    fields = _stat_fields(pid)
    return fields is not None and fields[19] == started and fields[0] not in ("Z", "X")


def _group_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[2])


def signal_job(run_id: str, leader: int, sig: int, *, started: str | None = None) -> None:
    """Sends ``sig`` to the job's process group (while it is the run's: a pid can be reused
    once the leader is reaped) and to every process of the run.

    The group is the run's while its leader is (the wrapper that started at ``started``, or
    a process with the run id), or while a process of the run is in it: a wrapper forked
    by a launcher carries the launcher's environment, not the run id (so does a job forked
    by a forkserver), and no new process gets a pid that a live group still holds."""
    pids = processes_of_run(run_id)
    if (
        (started is not None and is_process(leader, started))
        or process_of_run(leader, run_id)
        or any(_group_of(pid) == leader for pid in pids)
    ):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class LocalJobHandle(JobHandle):
    """A job started here (``popen`` set, or ``pidfd`` of a wrapper the launcher forked) or
    found again after an agent restart."""

    def __init__(
        self,
        backend: str,
        run_id: str,
        pid: int,
        popen: subprocess.Popen[bytes] | None,
        *,
        pidfd: int | None = None,
        status_file: Path | None = None,
        started: str | None = None,
    ) -> None:
        self._ref = JobRef(backend=backend, job_id=str(pid), instance=started or None)
        self._started = started or None  # the wrapper's start time, where it is known
        self.run_id, self.pid, self._popen = run_id, pid, popen
        # A launcher's wrapper is not our child: its end is seen on the pidfd, its code in
        # the status file it writes before it ends.
        self._pidfd = pidfd
        self._status_file = status_file
        self._code: int | None = None
        self._swept = False  # its wrapper ended leaving no process of the job behind

    @property
    def ref(self) -> JobRef:
        return self._ref

    def wait(self, timeout: float) -> int | None:
        if self._status_file is not None and self._popen is None:
            return self._wait_wrapper(timeout)
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
        if code is not None:
            self._close_pidfd()
        return code

    def _wait_wrapper(self, timeout: float) -> int | None:
        if self._code is None and self._pidfd is not None and self._pidfd >= 0:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                return None
            self._close_pidfd()
            assert self._status_file is not None
            code = read_status(self._status_file)
            # No status: the wrapper itself was killed (SIGKILL of the job's group).
            self._code = -signal.SIGKILL if code is None else code
            self._swept = os.path.exists(swept_path(self._status_file))
        return self._code

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

    def _close_pidfd(self) -> None:
        if self._pidfd is not None and self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1  # closed: never opened again

    def __del__(self) -> None:
        self._close_pidfd()

    def running(self) -> bool:
        if self._popen is not None and self._popen.poll() is None:
            return True
        if self._popen is None and self._pidfd is not None and self._pidfd >= 0:
            ready, _, _ = select.select([self._pidfd], [], [], 0)
            if not ready:
                return True
        reattached = self._popen is None and self._pidfd is None and self._started is not None
        if reattached and is_process(self.pid, self._started or ""):  # its wrapper lives
            return True
        return bool(processes_of_run(self.run_id))

    def cancel(self, *, force: bool = False) -> None:
        if self._swept:  # nothing of the job is left to stop: no scan of every process
            return
        sig = signal.SIGKILL if force else signal.SIGTERM
        signal_job(self.run_id, self.pid, sig, started=self._started)


class LocalProcesses:
    """``launch`` and ``reattach`` for backends whose nodes are slots of this machine."""

    compute_type: str

    def launch(self, job: JobSpec) -> JobHandle:
        if job.status_file is not None and launcher.available():
            try:
                started = launcher.launcher().start(job, user_umask())
            except launcher.LauncherGone:
                signal_job(job.run_id, -1, signal.SIGKILL)  # it may have started: no orphan
                raise
            return LocalJobHandle(
                self.compute_type,
                job.run_id,
                started.pid,
                None,
                pidfd=started.pidfd,
                status_file=job.status_file,
                started=started.started,
            )
        argv = list(job.argv)
        if job.status_file is not None:
            # -S -E: the wrapper is standard library only, and starts fast whatever the
            # job's PYTHONPATH holds; the job itself gets its environment unchanged.
            ranks: list[str] = []
            if job.ranks:  # a distributed node: its ranks in a file beside the status
                request = Path(f"{job.status_file}.request.json")
                request.write_text(json.dumps(launcher.request_of(job, user_umask())))
                ranks = ["--ranks", str(request)]
            wrapper = [sys.executable, "-S", "-E", launcher.WRAPPER, str(job.status_file)]
            argv = [*wrapper, *ranks, "--", *argv]
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
        nodes = gang.split_ref(ref)
        if nodes is not None:  # a distributed run: one wrapper per node
            return gang.GangHandle([self.reattach(run_id, node) for node in nodes])
        return LocalJobHandle(
            self.compute_type, run_id, int(ref.job_id), None, started=ref.instance
        )
