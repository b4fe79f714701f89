"""The submitter's side of the per-workspace agent: is it running, wake it, start it, stop it.

The agent (``agent.py``) is started on demand by ``ensure_agent`` as
``python -m runyard._services.agent <root>`` in its own session, so it outlives the Python
that submitted. Liveness is an ``flock`` held on ``agent/agent.lock`` (the pid is written
into it). Submitters wake it by writing a byte to the FIFO ``agent/agent.wake``.

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
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runyard import _jobenv
from runyard._config import PRIVATE_FILE_MODE, Settings, WorkspaceLayout, make_private_dir
from runyard._entities import ACTIVE_STATUSES, RunInfo, RunStatus
from runyard._services import Services, open_services
from runyard.exceptions import ExperimentExecutionException, RunyardError

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
_spawned: list[int] = []  # agents this process started, reaped lazily (no zombies)


def lock_path(layout: WorkspaceLayout) -> Path:
    return layout.agent_dir / "agent.lock"


def wake_path(layout: WorkspaceLayout) -> Path:
    return layout.agent_dir / "agent.wake"


def log_path(layout: WorkspaceLayout) -> Path:
    return layout.agent_dir / "agent.log"


# ---- liveness and wake-up (submitter side) --------------------------------------------


def agent_pid(layout: WorkspaceLayout) -> int | None:
    """The live agent's pid, or None when no agent holds the lock."""
    try:
        fd = os.open(lock_path(layout), os.O_RDONLY)
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
        fd = os.open(wake_path(layout), os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT):
            return False
        raise
    try:
        os.write(fd, b"w")
    except BlockingIOError:
        pass  # the pipe is full of unread wake-ups: the agent will wake anyway
    except BrokenPipeError:
        return False  # the agent closed its end between our open and write: it is stopping
    finally:
        os.close(fd)
    return True


@contextlib.contextmanager
def _spawn_lock(layout: WorkspaceLayout) -> Iterator[None]:
    fd = os.open(layout.agent_dir / "spawn.lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _agent_env(settings: Settings) -> dict[str, str]:
    # An agent started from inside a job must not carry that job's run id: every process
    # with it counts as the job's (runyard._compute.processes) and dies when it is canceled.
    env = {k: v for k, v in os.environ.items() if k not in (_jobenv.RUN_ID, _jobenv.SPOOL)}
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
            PRIVATE_FILE_MODE,
        ),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    _spawned.append(
        os.posix_spawn(
            sys.executable, argv, _agent_env(settings), file_actions=actions, setsid=True
        )
    )


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
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
    make_private_dir(layout.agent_dir)
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


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """What `runyard agent status` shows."""

    running: bool
    pid: int | None  # -1: the lock is held but the pid could not be read
    log: str
    running_runs: list[str] = field(default_factory=list)  # active runs (Preparing...)
    queued: int = 0


def agent_status(layout: WorkspaceLayout, settings: Settings | None = None) -> AgentStatus:
    pid = agent_pid(layout)
    running, log = pid is not None, str(log_path(layout))
    if not layout.db_path.exists() and not (settings and settings.store_uri):
        return AgentStatus(running, pid, log)
    services = open_services(layout, settings or Settings.from_env())
    runs = services.store.list_runs(
        statuses=(*ACTIVE_STATUSES, RunStatus.QUEUED), include_children=True
    )
    return AgentStatus(
        running,
        pid,
        log,
        running_runs=[r.run_id for r in runs if r.status is not RunStatus.QUEUED],
        queued=sum(r.status is RunStatus.QUEUED for r in runs),
    )


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


def revive_agent(services: Services, runs: Iterable[RunInfo]) -> bool:
    """Starts the workspace's agent when one of ``runs`` waits for it (agent-managed, not
    ended) and no agent runs: it died, and the new one reconciles or runs them. Reads must
    still answer when it cannot start (a read-only workspace): that is logged, not raised.
    True when an agent was started."""
    if not any(r.agent_managed and not r.status.is_terminal() for r in runs):
        return False
    if agent_pid(services.layout) is not None:
        return False
    try:
        ensure_agent(services.layout, services.settings)
    except (OSError, RunyardError) as exc:
        root = services.layout.root
        log.warning("the agent of %s is not running and could not be started: %s", root, exc)
        return False
    return True
