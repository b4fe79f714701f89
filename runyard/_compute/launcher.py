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
import dataclasses
import json
import os
import signal
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._compute.base import JobSpec
from runyard._compute.job_wrapper import receive, send

WRAPPER = str(Path(__file__).with_name("job_wrapper.py"))


def available() -> bool:
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")


class LauncherGone(OSError):
    """The launcher ended after taking a request: the job may have started."""


@dataclass(frozen=True, slots=True)
class Launched:
    """A job's wrapper, started: its pid, a pidfd of it, and its start time (which tells it
    from a later process that reuses the pid)."""

    pid: int
    pidfd: int
    started: str


FORKSERVER_SWITCH = "RUNYARD_JOB_FORKSERVER"  # "0" in the agent's environment: never fork jobs
MAX_FORKSERVERS = 3  # one per (interpreter, environment) in use; the least used goes first
_READY_TIMEOUT = 60.0  # a forkserver's interpreter starting on a loaded machine


class _Server:
    """One launcher process and this process's socket to it."""

    def __init__(self, argv: list[str], env: dict[str, str], *, forkserver: bool) -> None:
        self.argv, self.env, self.forkserver = argv, env, forkserver
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self.ready = False  # a forkserver said it started (a plain launcher needs not)

    def connected(self) -> socket.socket:
        if self.sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
                (os.POSIX_SPAWN_DUP2, theirs.fileno(), 0)
            ]
            if self.forkserver:  # stdout as a job's is, not a terminal; stderr the agent's
                actions.append((os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0))
            try:
                self.pid = os.posix_spawn(
                    self.argv[0], self.argv, self.env, file_actions=actions, setsid=True
                )
            except OSError:
                ours.close()
                raise
            finally:
                theirs.close()
            self.sock, self.ready = ours, not self.forkserver
        return self.sock

    def drop(self) -> None:
        """Forgets a launcher; one still running sees its socket close, waits for its jobs
        and exits (reaped then by ``reap_dropped``, so it is no zombie of ours)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid is not None:
            _dropped.add(self.pid)
            self.pid = None
        reap_dropped()


_dropped: set[int] = set()  # launchers this process started and let go, not reaped yet


def reap_dropped() -> None:
    for pid in list(_dropped):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:
            done = True
        if done:
            _dropped.discard(pid)


class Launcher:
    """Starts jobs' wrappers through launcher processes; safe from many threads.

    A job whose interpreter is a Python given a script file goes to a **forkserver**: a
    launcher started as that interpreter (``python job_wrapper.py --forkserver``), with the
    job's environment minus its per-run variables (``_jobenv.per_run_names``). Its wrappers
    fork the job's process, which runs the script in the interpreter that already started
    (``job_wrapper.run_script``): a job no longer waits for its interpreter's start (tens of
    ms; more where site-packages hold import hooks). What differs from a new interpreter:
    the jobs of one forkserver share its hash seed (set iteration order), ``ps`` shows the
    forkserver's command line, and /proc/<pid>/environ the environment it started with (the
    job's own is in os.environ and in every process it starts). Jobs of other interpreters,
    or with a relative PYTHONPATH entry or a per-run PYTHON* variable, and every job when
    the agent's environment sets RUNYARD_JOB_FORKSERVER=0, go to the plain launcher
    (``python -S -E job_wrapper.py --launcher``), whose wrappers start the job's command.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = os.getpid()
        self._plain: _Server | None = None
        self._forkservers: OrderedDict[tuple[str, ...], _Server] = OrderedDict()
        self._broken: set[tuple[str, ...]] = set()  # forkservers that could not start
        # Closed on the way out, not left to the collector (which warns of an open socket);
        # the launchers then end once their jobs have.
        atexit.register(self._drop_all)

    def start(self, job: JobSpec, umask: int) -> Launched:
        """The job's wrapper, which runs ``job.argv`` in a session of its own.

        Raises:
            LauncherGone: the launcher died while starting it.
            OSError: the launcher could not be started, or could not start the job.
        """
        body = json.dumps(request_of(job, umask)).encode()
        with self._lock, open(job.driver_log, "ab") as log:
            if self._owner != os.getpid():  # a forked copy of us: never share the parent's
                self._plain, self._forkservers, self._owner = None, OrderedDict(), os.getpid()
                self._broken = set()
            answer = None
            key = _forkserver_key(job)
            if _dropped:
                reap_dropped()
            if key is not None and key not in self._broken:
                server = self._forkserver(key, job)
                answer = self._ask(server, body, log.fileno(), run_id=job.run_id)
                if answer is None:  # it never started: the job goes to the plain launcher
                    self._broken.add(key)
                    self._forkservers.pop(key, None)
            if answer is None:
                if self._plain is None:
                    self._plain = _Server(_PLAIN_ARGV, _launcher_env(os.environ), forkserver=False)
                answer = self._ask(self._plain, body, log.fileno(), run_id=job.run_id)
            if answer is None:
                raise OSError(f"the job launcher could not be started for run {job.run_id}")
        data, fds = answer
        reply = json.loads(data)
        if "pid" not in reply or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            why = reply.get("error")
            raise OSError(f"the job launcher could not start run {job.run_id}: {why}")
        os.set_inheritable(fds[0], False)  # received descriptors are inheritable
        return Launched(int(reply["pid"]), fds[0], str(reply.get("started", "")))

    def _forkserver(self, key: tuple[str, ...], job: JobSpec) -> _Server:
        server = self._forkservers.get(key)
        if server is None:
            env = _launcher_env({k: v for k, v in job.env.items() if k not in per_run(job)})
            server = _Server([job.argv[0], WRAPPER, "--forkserver"], env, forkserver=True)
            self._forkservers[key] = server
            while len(self._forkservers) > MAX_FORKSERVERS:
                self._forkservers.popitem(last=False)[1].drop()
        self._forkservers.move_to_end(key)
        return server

    def _ask(
        self, server: _Server, body: bytes, log_fd: int, *, run_id: str
    ) -> tuple[bytes, list[int]] | None:
        """Sends the request; the answer, or None when a forkserver did not start (the job was
        not sent: a message crosses another on the socket only in this order, one at a time)."""
        sock = self._ready(server)
        if sock is None:
            return None
        try:
            send(sock, body, [log_fd])
        except OSError:  # a launcher that ended since the last job: nothing was sent
            server.drop()
            sock = self._ready(server)
            if sock is None:
                return None
            send(sock, body, [log_fd])
        try:
            answer = receive(sock)
        except OSError:
            answer = None
        if answer is None:
            server.drop()
            raise LauncherGone(f"the job launcher ended while starting run {run_id}")
        return answer

    @staticmethod
    def _ready(server: _Server) -> socket.socket | None:
        """The socket to a launcher that runs (started if need be), or None when a forkserver
        could not start: it ended, or has not said it is ready in _READY_TIMEOUT seconds."""
        sock = server.connected()
        if server.ready:
            return sock
        sock.settimeout(_READY_TIMEOUT)
        try:
            hello = receive(sock)
        except OSError:
            hello = None
        finally:
            sock.settimeout(None)
        if hello is not None and b"ready" in hello[0]:
            server.ready = True
            return sock
        for fd in hello[1] if hello else []:
            os.close(fd)
        if server.pid is not None:  # hung rather than ended: never left to take a job
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(server.pid, 0)
            server.pid = None
        server.drop()
        return None

    def _drop_all(self) -> None:
        for server in [self._plain, *self._forkservers.values()]:
            if server is not None:
                server.drop()


_PLAIN_ARGV = [sys.executable, "-S", "-E", WRAPPER, "--launcher"]


def request_of(job: JobSpec, umask: int) -> dict[str, Any]:
    """What a wrapper is asked to run (job_wrapper's request); a distributed node's carries
    its ranks and, on the first node, the MPI world's PMI server."""
    request: dict[str, Any] = {
        "argv": list(job.argv),
        "cwd": str(job.cwd),
        "env": dict(job.env),
        "status": str(job.status_file),
        "umask": umask,
    }
    if job.ranks:
        request["ranks"] = [
            {"rank": r.rank, "env": dict(r.env), "log": r.log, "tee": r.tee} for r in job.ranks
        ]
    if job.pmi is not None:
        request["pmi"] = dataclasses.asdict(job.pmi)
    return request


def _launcher_env(env: Mapping[str, str]) -> dict[str, str]:
    # No run id: every process whose environment has one counts as that run's job.
    return {k: v for k, v in env.items() if k not in (_jobenv.RUN_ID, _jobenv.SPOOL)}


def per_run(job: JobSpec) -> set[str]:
    return _jobenv.per_run_names(job.env)


def _forkserver_key(job: JobSpec) -> tuple[str, ...] | None:
    """What a forkserver for this job is started with (interpreter and environment), or None
    when the job must start an interpreter of its own."""
    if os.environ.get(FORKSERVER_SWITCH, "1") == "0" or len(job.argv) < 2:
        return None
    python, script = job.argv[0], job.argv[1]
    if not os.path.isabs(python) or script.startswith("-"):
        return None
    if not os.path.isfile(os.path.join(job.cwd, script)):
        return None  # a folder or zip file to run, or nothing: the interpreter says
    names = per_run(job)
    if any(name.startswith("PYTHON") for name in names):
        return None
    # Relative entries would be made absolute against the forkserver's folder, not the job's.
    path = job.env.get("PYTHONPATH", "")
    if any(entry and not os.path.isabs(entry) for entry in path.split(os.pathsep)):
        return None
    kept = sorted(f"{k}={v}" for k, v in job.env.items() if k not in names)
    return (python, *kept)


_launcher = Launcher()


def launcher() -> Launcher:
    """This process's launcher (one per agent)."""
    return _launcher
