"""The agent's side of the job launcher: one long-lived ``job_wrapper.py --launcher`` process
that forks each local job's wrapper (see ``job_wrapper``), so that a job no longer waits
for a wrapper interpreter to start before its own.

The launcher is started on the first launch, in a session of its own, and lives as long as
this process holds its socket: when the agent stops or is killed, it waits for the jobs it
started and exits; their wrappers record their exit status whatever happens to either.
Where pidfds are missing (not Linux >= 5.3), ``available()`` is False and every job gets a
wrapper process of its own instead.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import threading
from pathlib import Path

from runyard import _jobenv
from runyard._compute.base import JobSpec
from runyard._compute.job_wrapper import receive, send

WRAPPER = str(Path(__file__).with_name("job_wrapper.py"))


def available() -> bool:
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


class LauncherGone(OSError):
    """The launcher ended after taking a request: the job may have started."""


class Launcher:
    """Starts jobs' wrappers through the launcher process; safe from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pid: int | None = None
        self._owner = os.getpid()
        # Closed on the way out, not left to the collector (which warns of an open socket);
        # the launcher then ends once its jobs have.
        atexit.register(self._drop)

    def start(self, job: JobSpec, umask: int) -> tuple[int, int]:
        """(pid, pidfd) of the job's wrapper, which runs ``job.argv`` in a session of its own.

        Raises:
            LauncherGone: the launcher died while starting it.
            OSError: the launcher could not be started, or could not start the job.
        """
        request = {
            "argv": list(job.argv),
            "cwd": str(job.cwd),
            "env": dict(job.env),
            "status": str(job.status_file),
            "umask": umask,
        }
        body = json.dumps(request).encode()
        with self._lock, open(job.driver_log, "ab") as log:
            try:
                sock = self._connected()
                send(sock, body, [log.fileno()])
            except OSError:  # a launcher that ended since the last job: nothing was sent
                self._drop()
                sock = self._connected()
                send(sock, body, [log.fileno()])
            try:
                answer = receive(sock)
            except OSError:
                answer = None
            if answer is None:
                self._drop()
                raise LauncherGone(f"the job launcher ended while starting run {job.run_id}")
        data, fds = answer
        reply = json.loads(data)
        if "pid" not in reply or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            why = reply.get("error")
            raise OSError(f"the job launcher could not start run {job.run_id}: {why}")
        os.set_inheritable(fds[0], False)  # received descriptors are inheritable
        return int(reply["pid"]), fds[0]

    def _connected(self) -> socket.socket:
        if self._owner != os.getpid():  # a forked copy of us: never share the parent's
            self._sock, self._pid, self._owner = None, None, os.getpid()
        if self._sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            # No run id: every process whose environment has one counts as that run's job.
            env = {k: v for k, v in os.environ.items() if k not in (_jobenv.RUN_ID, _jobenv.SPOOL)}
            argv = [sys.executable, "-S", "-E", WRAPPER, "--launcher"]
            try:
                self._pid = os.posix_spawn(
                    sys.executable,
                    argv,
                    env,
                    file_actions=[(os.POSIX_SPAWN_DUP2, theirs.fileno(), 0)],
                    setsid=True,
                )
            except OSError:
                ours.close()
                raise
            finally:
                theirs.close()
            self._sock = ours
        return self._sock

    def _drop(self) -> None:
        """Forgets a launcher that ended (reaped, so it is no zombie of ours)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, os.WNOHANG)
            self._pid = None


_launcher = Launcher()


def launcher() -> Launcher:
    """This process's launcher (one per agent)."""
    return _launcher
