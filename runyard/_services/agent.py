"""The per-workspace agent: a detached daemon that runs queued runs.

Started on demand by ``ensure_agent`` as ``python -m runyard._services.agent <root>`` in its
own session, so it outlives the Python that submitted. Liveness is an ``flock`` held on
``agent/agent.lock`` (the pid is written into it). Submitters wake it by writing a byte to
the FIFO ``agent/agent.wake``; it also polls every ``POLL`` seconds. On start it reconciles
runs a dead agent left active. It exits after ``idle_seconds`` with nothing to do.

Exit protocol (no lost wake-up): the agent closes the FIFO, checks the queue once more, then
drops the lock. A submitter whose wake-up finds no reader waits for the lock to be free (or
a reader to appear) and starts a new agent.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._config import Settings, WorkspaceLayout
from runyard.exceptions import ExperimentExecutionException

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between queue scans when nobody wakes the agent
DEFAULT_IDLE_SECONDS = 600
START_TIMEOUT = 30.0
_spawned: list[int] = []  # agents this process started, reaped lazily (no zombies)


def _lock_path(layout: WorkspaceLayout) -> Path:
    return layout.agent_dir / "agent.lock"


def _wake_path(layout: WorkspaceLayout) -> Path:
    return layout.agent_dir / "agent.wake"


def log_path(layout: WorkspaceLayout) -> Path:
    return layout.agent_dir / "agent.log"


# ---- liveness and wake-up (submitter side) --------------------------------------------


def agent_pid(layout: WorkspaceLayout) -> int | None:
    """The live agent's pid, or None when no agent holds the lock."""
    try:
        fd = os.open(_lock_path(layout), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.pread(fd, 32, 0).strip()
            return int(raw) if raw.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def wake(layout: WorkspaceLayout) -> bool:
    """Pokes a listening agent; False when nobody listens."""
    try:
        fd = os.open(_wake_path(layout), os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):
            return False
        raise
    try:
        os.write(fd, b"w")
    except BlockingIOError:
        pass  # the pipe is full of unread wake-ups: the agent will wake anyway
    finally:
        os.close(fd)
    return True


@contextlib.contextmanager
def _spawn_lock(layout: WorkspaceLayout) -> Iterator[None]:
    fd = os.open(layout.agent_dir / "spawn.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _agent_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["RUNYARD_HOME"] = str(settings.home)
    env["RUNYARD_LOCAL_MAX_CONCURRENT_RUNS"] = str(settings.local_max_concurrent_runs)
    if settings.store_uri:
        env["RUNYARD_STORE_URI"] = settings.store_uri
    pythonpath = _jobenv.package_pythonpath(env)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


def _spawn(layout: WorkspaceLayout, settings: Settings) -> None:
    # posix_spawn rather than Popen: no Popen object outlives this call (Popen warns when
    # collected while its process runs, and the agent is meant to outlive us).
    for pid in list(_spawned):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        _spawned.remove(pid)
    argv = [sys.executable, "-m", "runyard._services.agent", str(layout.root)]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (
            os.POSIX_SPAWN_OPEN,
            1,
            str(log_path(layout)),
            os.O_WRONLY | os.O_APPEND | os.O_CREAT,
            0o644,
        ),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    _spawned.append(
        os.posix_spawn(
            sys.executable, argv, _agent_env(settings), file_actions=actions, setsid=True
        )
    )


def _wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def ensure_agent(layout: WorkspaceLayout, settings: Settings) -> None:
    """Wakes the workspace's agent, starting it if none is running. Race-safe: submitters
    serialise on agent/spawn.lock, so two at once start one agent.

    Raises:
        ExperimentExecutionException: the agent did not start (its log tail is quoted).
    """
    layout.agent_dir.mkdir(parents=True, exist_ok=True)
    if wake(layout):
        return
    with _spawn_lock(layout):
        if wake(layout):
            return
        # An agent still holding the lock is starting (soon listening) or exiting.
        _wait_for(lambda: agent_pid(layout) is None or wake(layout), START_TIMEOUT)
        if wake(layout):
            return
        _spawn(layout, settings)
        if not _wait_for(lambda: wake(layout), START_TIMEOUT):
            raise ExperimentExecutionException(
                f"The Runyard agent for workspace {str(layout.root)!r} did not start within "
                f"{START_TIMEOUT:.0f} s. Its log {log_path(layout)} ends with:\n"
                f"{_tail(log_path(layout))}\nFix the problem it shows, then submit again."
            )


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_bytes()[-size:].decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"


def agent_status(layout: WorkspaceLayout, settings: Settings | None = None) -> dict[str, Any]:
    """{running, pid, running_runs, queued, log}: what `runyard agent status` shows."""
    from runyard._entities import RunStatus
    from runyard._services import open_services
    from runyard._services.supervisor import ACTIVE

    pid = agent_pid(layout)
    status: dict[str, Any] = {"running": pid is not None, "pid": pid, "log": str(log_path(layout))}
    if not layout.db_path.exists() and not (settings and settings.store_uri):
        return {**status, "running_runs": [], "queued": 0}
    services = open_services(layout, settings or Settings.from_env())
    runs = services.store.list_runs(statuses=(*ACTIVE, RunStatus.QUEUED), include_children=True)
    status["running_runs"] = [r.run_id for r in runs if r.status is not RunStatus.QUEUED]
    status["queued"] = sum(r.status is RunStatus.QUEUED for r in runs)
    return status


def stop_agent(layout: WorkspaceLayout, timeout: float = 30.0) -> bool:
    """Stops the agent (SIGTERM) and waits for it to exit. Runs it was supervising end
    Failed ("agent stopped"). Returns False when no agent was running.

    Raises:
        ExperimentExecutionException: it is still running after ``timeout`` seconds.
    """
    pid = agent_pid(layout)
    if pid is None:
        return False
    if pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if not _wait_for(lambda: agent_pid(layout) is None, timeout):
        raise ExperimentExecutionException(
            f"The Runyard agent (pid {pid}) of {str(layout.root)!r} is still running "
            f"{timeout:.0f} s after SIGTERM; see {log_path(layout)}, or kill it with "
            f"`kill -9 {pid}` (its runs are then failed when the agent next starts)."
        )
    return True


# ---- the daemon --------------------------------------------------------------------------


class Agent:
    def __init__(self, layout: WorkspaceLayout, settings: Settings, idle_seconds: float) -> None:
        self.layout, self.settings, self.idle_seconds = layout, settings, idle_seconds
        self.stopping = threading.Event()
        self.supervisors: dict[str, Any] = {}
        self.wake_fd = -1

    def _open_wake(self) -> None:
        path = _wake_path(self.layout)
        if not path.exists():
            with contextlib.suppress(FileExistsError):
                os.mkfifo(path, 0o600)
        # O_RDWR: we are a writer too, so the FIFO never reads as EOF between submitters.
        self.wake_fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def _close_wake(self) -> None:
        if self.wake_fd >= 0:
            os.close(self.wake_fd)
            self.wake_fd = -1

    def _sleep(self, seconds: float) -> None:
        ready, _, _ = select.select([self.wake_fd], [], [], seconds)
        if ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self.wake_fd, 4096):
                    pass

    def _poke(self) -> None:
        if self.wake_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.wake_fd, b"p")

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping.set()
        self._poke()

    def serve(self) -> None:
        from runyard._services import close_all, open_services
        from runyard._services.cluster_scheduler import ClusterScheduler
        from runyard._services.supervisor import reconcile

        self.services = open_services(self.layout, self.settings)
        self.clusters = ClusterScheduler(self.services)
        ended = reconcile(self.services)
        if ended:
            log.warning("reconciled runs left by a dead agent: %s", ", ".join(ended))
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self._open_wake()
        try:
            self._loop()
        finally:
            self._close_wake()
            self._stop_supervisors()
            close_all()

    def _loop(self) -> None:
        last_busy = time.monotonic()
        while not self.stopping.is_set():
            queued_left = self._schedule()
            if self.supervisors or queued_left:
                last_busy = time.monotonic()
            elif time.monotonic() - last_busy > self.idle_seconds:
                self._close_wake()  # from here submitters see "no agent" and wait for the lock
                if not self._schedule() and not self.supervisors:
                    log.info("idle for %.0f s; exiting", self.idle_seconds)
                    return
                self._open_wake()
            self._sleep(POLL)

    def _schedule(self) -> bool:
        """Starts queued runs while slots or nodes are free; True if some still wait (or a
        cluster still has nodes to start or scale down).

        A cluster run goes through here twice, as in v1: Queued -> Preparing (at most
        max_nodes builds per cluster at once), then Queued again until a node is free ->
        Starting. Runs waiting for a node get one in submit order."""
        from runyard._entities import RunStatus

        now = time.time()
        self.supervisors = {k: s for k, s in self.supervisors.items() if s.is_alive()}
        queued = self.services.store.list_runs(statuses=[RunStatus.QUEUED], include_children=True)
        queued = [r for r in reversed(queued) if "snapshot_id" in r.definition]
        ready = {r.run_id: python for r in queued if (python := _prepared_python(r))}
        waiting: dict[str, list[str]] = {}
        for info in queued:
            if info.run_id in ready:
                waiting.setdefault(info.target, []).append(info.run_id)
        busy = self.clusters.tick(now, waiting, set(self.supervisors))
        left = 0
        for info in queued:
            if info.run_id in ready:
                left += not self._start_on_node(info, ready[info.run_id], now)
        limits: dict[str, Any] = {}  # target -> max_nodes, or why it cannot run jobs
        for info in queued:
            if info.run_id in ready:
                continue
            if info.target == "local":
                started = self._start_local(info)
            else:
                started = self._start_preparing(info, limits)
            left += not started
        return left > 0 or busy

    def _start_local(self, info: Any) -> bool:
        local = sum(s.target == "local" for s in self.supervisors.values())
        if local >= self.settings.local_max_concurrent_runs:
            return False
        self._claim(info)
        return True

    def _start_preparing(self, info: Any, limits: dict[str, Any]) -> bool:
        """Claims a cluster run for Preparing unless max_nodes of its runs already are, so
        a long queue never builds all its environments at once."""
        from runyard.exceptions import ComputeTargetException

        if info.target not in limits:
            try:
                limits[info.target] = self.clusters.max_nodes(info.target)
            except ComputeTargetException as exc:
                limits[info.target] = exc
        limit = limits[info.target]
        if isinstance(limit, ComputeTargetException):
            return self._fail_no_target(info, limit)
        preparing = sum(
            s.target == info.target and s.needs_node and s.preparing
            for s in self.supervisors.values()
        )
        if preparing >= limit:
            return False
        self._claim(info)
        return True

    def _fail_no_target(self, info: Any, exc: Exception) -> bool:
        from runyard._entities import RunStatus

        self.services.store.set_run_status(
            info.run_id,
            RunStatus.FAILED,
            error={"code": "ComputeTargetNotFound", "message": str(exc)},
            expected={RunStatus.QUEUED},
        )
        return True

    def _start_on_node(self, info: Any, python: str, now: float) -> bool:
        from runyard.exceptions import ComputeTargetException

        try:
            placement = self.clusters.place(info.run_id, info.target, now)
        except ComputeTargetException as exc:
            return self._fail_no_target(info, exc)
        if placement.scaling is not None:
            self._note_scaling(info.run_id, placement.scaling)
            self._poke()  # the new node is ready at the next pass
        if placement.node_id is None:
            return False
        if not self._claim(info, node_id=placement.node_id, python=python):
            self.clusters.release(info.target, placement.node_id, now)
        return True

    def _note_scaling(self, run_id: str, line: str) -> None:
        from runyard._services.supervisor import append_driver_log

        self.services.store.update_run(run_id, runtime={"scaling": line})
        append_driver_log(self.services, run_id, line)

    def _claim(self, info: Any, node_id: str | None = None, python: str | None = None) -> bool:
        """Queued -> Preparing (a new run), or -> Starting (a prepared run given its node)."""
        from runyard._entities import RunStatus
        from runyard._services.supervisor import Supervisor

        status = RunStatus.PREPARING if python is None else RunStatus.STARTING
        claimed = self.services.store.set_run_status(
            info.run_id, status, expected={RunStatus.QUEUED}
        )
        if claimed is None:
            return False
        if node_id is not None:
            self.services.store.update_run(info.run_id, runtime={"node_id": node_id})
        sup = Supervisor(self.services, info.run_id, os.getpid(), self._poke)
        sup.target = info.target
        sup.needs_node = info.target != "local" and python is None
        sup.python = python
        self.supervisors[info.run_id] = sup
        sup.start()
        return True

    def _stop_supervisors(self) -> None:
        for sup in self.supervisors.values():
            sup.stop_requested.set()
        for sup in self.supervisors.values():
            sup.join()
        self.supervisors.clear()


def _prepared_python(info: Any) -> str | None:
    """The interpreter a Queued cluster run was prepared with, when it still exists (an
    agent restart or `runyard envs prune` may have lost it: the run is prepared again)."""
    python = info.runtime.get("prepared")
    if info.target == "local" or not isinstance(python, str) or not os.path.exists(python):
        return None
    return python


def _hold_lock(layout: WorkspaceLayout) -> int | None:
    layout.agent_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_path(layout), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m runyard._services.agent <workspace root>", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s agent[%(process)d] %(levelname)s %(message)s"
    )
    layout = WorkspaceLayout(Path(args[0]).resolve())
    os.chdir(layout.root)  # hold no submitter's folder open
    lock_fd = _hold_lock(layout)
    if lock_fd is None:
        log.info("another agent holds %s; exiting", _lock_path(layout))
        return 0
    settings = Settings.from_env()
    idle = float(os.environ.get("RUNYARD_AGENT_IDLE_SECONDS") or DEFAULT_IDLE_SECONDS)
    log.info("agent started for %s", layout.root)
    try:
        Agent(layout, settings, idle).serve()
    finally:
        os.close(lock_fd)  # drops the flock: from now on submitters start a new agent
    log.info("agent stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
