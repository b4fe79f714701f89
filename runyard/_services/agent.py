"""The per-workspace agent: a detached daemon that runs queued runs.

Started by ``agent_client.ensure_agent`` as ``python -m runyard._services.agent <root>``.
It holds the ``flock`` on ``agent/agent.lock`` while it lives, listens on the FIFO
``agent/agent.wake`` and also polls every ``POLL`` seconds. On start it reconciles runs a
dead agent left active. It exits after ``idle_seconds`` with nothing to do (the exit
protocol is in ``agent_client``).

Scheduling is the same for every target: the ``Scheduler`` gives each run its target's
backend, and the backend says whether a run holds its slot from Preparing on ('local') or
prepares first and then waits Queued for a node (clusters, as v1 orders the phases).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from runyard._compute.base import ComputeBackend
from runyard._compute.ranks import node_count_of
from runyard._config import Settings, WorkspaceLayout, make_private_dir, use_private_umask
from runyard._entities import ACTIVE_STATUSES, ErrorCode, RunError, RunInfo, RunRuntime, RunStatus
from runyard._services import Services, close_all, open_services
from runyard._services.agent_client import lock_path, wake_path
from runyard._services.driver_log import append_driver_log
from runyard._services.job_channel import ChannelServer
from runyard._services.job_setup import has_environment
from runyard._services.reconcile import can_resume, finish_orphan, reconcile
from runyard._services.scheduler import Scheduler, reattach
from runyard._services.service_keeper import ServiceKeeper
from runyard._services.supervisor import Supervisor
from runyard._services.sweep_loop import SweepLoop
from runyard.exceptions import ComputeTargetException

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between queue scans when nobody wakes the agent
_POKE = b"p"  # what the agent writes to its own FIFO (submitters write b"w")
QUEUE_FRESH = 0.5  # s: the queue is read again at least this often
SWEEP_POLL = 0.5  # while a sweep runs: its policy acts within ~1 s of a metric's ingest
DEFAULT_IDLE_SECONDS = 600


class Agent:
    def __init__(self, layout: WorkspaceLayout, settings: Settings, idle_seconds: float) -> None:
        self.layout, self.settings, self.idle_seconds = layout, settings, idle_seconds
        self.stopping = threading.Event()
        self.supervisors: dict[str, Supervisor] = {}
        self.unfinished: dict[str, RunError] = {}  # runs to end once the store can be written
        self.preparing_now: set[str] = set()  # runs claimed for Preparing in this pass
        self.woken_by_others = True
        self.left_queued: list[RunInfo] = []  # Queued runs the last pass left waiting
        self.queued_read_at = 0.0
        self.wake_fd = -1

    def _open_wake(self) -> None:
        path = wake_path(self.layout)
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
        # Woken only by our own pokes (a supervisor ended): nothing changed that the sweep
        # loop did not see or do; a time-out or another process's wake-up may have.
        self.woken_by_others = not ready
        if ready:
            with contextlib.suppress(BlockingIOError):
                while data := os.read(self.wake_fd, 4096):
                    self.woken_by_others = self.woken_by_others or data.strip(_POKE) != b""

    def _poke(self) -> None:
        if self.wake_fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.wake_fd, _POKE)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        self._poke()

    def serve(self) -> None:
        self.services: Services = open_services(self.layout, self.settings)
        self.channel = ChannelServer(self.services)
        self.channel.start()
        self.scheduler = Scheduler(self.services)
        self.sweeps = SweepLoop(self.services)
        self.keeper = ServiceKeeper(self.services)
        ended = reconcile(self.services)
        if ended:
            log.warning("reconciled runs left by a dead agent: %s", ", ".join(ended))
        self._resume_runs()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self._open_wake()
        try:
            self._loop()
        finally:
            self._close_wake()
            self._stop_supervisors()
            self.channel.stop()
            close_all()

    def _loop(self) -> None:
        last_busy = time.monotonic()
        while not self.stopping.is_set():
            # Sweeps first: the children they start are scheduled in the same pass.
            read, self.woken_by_others = self.woken_by_others, False
            ended = {s.run_id: s.final for s in self.supervisors.values() if s.final}
            sweeping = self.sweeps.tick(read=read, ended=ended)
            queued_left = self._schedule(read=read)
            # Deployed services keep the agent: it restarts their processes if they die.
            serving = self._keep_services()
            if self.supervisors or queued_left or self.unfinished or sweeping or serving:
                last_busy = time.monotonic()
            elif time.monotonic() - last_busy > self.idle_seconds:
                self._close_wake()  # from here submitters see "no agent" and wait for the lock
                if not self.sweeps.tick() and not self._schedule() and not self.supervisors:
                    log.info("idle for %.0f s; exiting", self.idle_seconds)
                    return
                self._open_wake()
            self._sleep(SWEEP_POLL if sweeping else POLL)

    def _keep_services(self) -> bool:
        try:
            return self.keeper.tick()
        except Exception:  # e.g. the store is briefly unwritable: try again next pass
            log.exception("keeping the web services failed")
            return True

    def _schedule(self, *, read: bool = True) -> bool:
        """Starts queued runs while slots or nodes are free; True if some still wait (or a
        cluster still has nodes to start or scale down).

        A cluster run goes through here twice, as in v1: Queued -> Preparing (at most
        max_nodes builds per cluster at once), then Queued again until a node is free ->
        Starting. Runs waiting for a node get one in submit order."""
        now = time.time()
        self.preparing_now = set()
        for sup in self.supervisors.values():
            if not sup.is_alive() and sup.unfinished is not None:
                self.unfinished[sup.run_id] = sup.unfinished
        self.supervisors = {k: s for k, s in self.supervisors.items() if s.is_alive()}
        self._end_unfinished()
        queued = self._queued(read, now)
        ready = {r.run_id: python for r in queued if (python := _prepared_python(r))}
        waiting: dict[str, list[str]] = {}
        for info in queued:
            if info.run_id in ready:
                waiting.setdefault(info.target, []).append(info.run_id)
        busy = self.scheduler.tick(now, waiting, set(self.supervisors), read=read)
        left: set[str] = set()
        for info in queued:
            if info.run_id in ready and not self._start_on_node(info, ready[info.run_id], now):
                left.add(info.run_id)
        backends: dict[str, ComputeBackend | ComputeTargetException] = {}
        for info in queued:
            if info.run_id not in ready and not self._start_preparing(info, backends, now):
                left.add(info.run_id)
        self.left_queued = [info for info in queued if info.run_id in left]
        return bool(left) or busy

    def _queued(self, read: bool, now: float) -> list[RunInfo]:
        """The Queued runs in submit order. Woken only by its own supervisors (``read``
        False) on a machine with no cluster, the agent knows them already: those left
        waiting at the last pass and the children the sweep loop just made (a cluster's
        supervisors put runs back to Queued themselves, so with clusters they are read)."""
        if read or self.scheduler.has_clusters or now - self.queued_read_at >= QUEUE_FRESH:
            queued = self.services.store.list_runs(
                statuses=[RunStatus.QUEUED], include_children=True, agent_managed=True
            )
            queued.reverse()  # submit order
            self.queued_read_at = now
            return queued
        return [*self.left_queued, *self.sweeps.made]

    def _end_unfinished(self) -> None:
        """Ends runs whose supervisor could not (the store failed, e.g. a full disk), once
        the store takes it; until then they are retried at every pass."""
        for run_id, error in list(self.unfinished.items()):
            try:
                info = self.services.store.get_run(run_id)
                if info.status.is_active():
                    finish_orphan(self.services, info, error)
            except Exception as exc:  # still failing: keep it for the next pass
                log.warning("run %s: still cannot be ended: %s", run_id, exc)
                continue
            del self.unfinished[run_id]

    def _start_preparing(
        self,
        info: RunInfo,
        backends: dict[str, ComputeBackend | ComputeTargetException],
        now: float,
    ) -> bool:
        """Claims a run for Preparing while its target has room: on 'local', a free slot
        (kept to the run's end); on a cluster, fewer than max_nodes of its runs preparing,
        so a long queue never builds all its environments at once."""
        if info.target not in backends:
            try:
                backends[info.target] = self.scheduler.backend(info.target)
            except ComputeTargetException as exc:
                backends[info.target] = exc
        backend = backends[info.target]
        if isinstance(backend, ComputeTargetException):
            return self._fail_no_target(info, backend)
        if not backend.queues_for_node:
            placement = self.scheduler.place(info.run_id, info.target, now)
            if placement.node_id is None:
                return False
            if not self._claim(info, backend):
                self.scheduler.release(info.target, placement.node_id, now)
            return True
        # A build claimed in this pass counts even if it is already done: the order in
        # which runs get nodes must not depend on how fast their supervisors are.
        preparing = sum(
            s.target == info.target
            and s.needs_node
            and (s.preparing or s.run_id in self.preparing_now)
            for s in self.supervisors.values()
        )
        if preparing >= max(1, backend.max_nodes):
            return False
        self._claim(info, backend)
        return True

    def _fail_no_target(self, info: RunInfo, exc: Exception) -> bool:
        self.services.store.set_run_status(
            info.run_id,
            RunStatus.FAILED,
            error=RunError(ErrorCode.COMPUTE_TARGET_NOT_FOUND, str(exc)),
            expected={RunStatus.QUEUED},
        )
        return True

    def _start_on_node(self, info: RunInfo, python: str, now: float) -> bool:
        try:
            count = node_count_of(info.definition)  # checked at submit
            placement = self.scheduler.place(info.run_id, info.target, now, count)
            # Read after placing: the run's job is launched from the state that placed it.
            backend = self.scheduler.backend(info.target) if placement.node_id else None
        except ComputeTargetException as exc:
            return self._fail_no_target(info, exc)
        if placement.scaling is not None:
            self._note_scaling(info.run_id, placement.scaling)
            self._poke()  # the new node is ready at the next pass
        if placement.node_id is None or backend is None:
            return False
        if not self._claim(info, backend, node_id=placement.node_id, python=python):
            self.scheduler.release(info.target, placement.node_id, now)
        return True

    def _note_scaling(self, run_id: str, line: str) -> None:
        self.services.store.update_run(run_id, runtime=RunRuntime(scaling=line))
        append_driver_log(self.services, run_id, line)

    def _claim(
        self,
        info: RunInfo,
        backend: ComputeBackend,
        *,
        node_id: str | None = None,
        python: str | None = None,
    ) -> bool:
        """Queued -> Preparing (a new run), or -> Starting (a prepared run given its node, or
        a run on a slot of this machine with no environment to prepare)."""
        nothing_to_prepare = not backend.queues_for_node and not has_environment(info.definition)
        status = RunStatus.STARTING if python or nothing_to_prepare else RunStatus.PREPARING
        claimed = self.services.store.set_run_status(
            info.run_id,
            status,
            expected={RunStatus.QUEUED},
            runtime=RunRuntime(agent_pid=os.getpid(), node_id=node_id),
        )
        if claimed is None:
            return False
        if status is RunStatus.PREPARING:
            self.preparing_now.add(info.run_id)
        sup = Supervisor(
            self.services,
            claimed,
            backend,
            agent_pid=os.getpid(),
            on_exit=self._poke,
            python=python,
        )
        self.supervisors[info.run_id] = sup
        sup.start()
        return True

    def _resume_runs(self) -> None:
        """Follows on the runs a dead agent left running on a backend whose jobs outlive it
        (``reconcile.can_resume``); one whose job cannot be found again is ended as an
        orphan."""
        active = self.services.store.list_runs(
            statuses=ACTIVE_STATUSES, include_children=True, agent_managed=True
        )
        for info in active:
            if not can_resume(info) or info.run_id in self.supervisors:
                continue
            assert info.runtime.job is not None
            try:
                backend = self.scheduler.backend(info.target)
                handle = reattach(self.services, info.run_id, info.target, info.runtime.job)
            except ComputeTargetException:
                handle = None
            if handle is None:
                finish_orphan(self.services, info)
                continue
            log.warning("run %s: following it on (launched by a dead agent)", info.run_id)
            sup = Supervisor(
                self.services, info, backend, agent_pid=os.getpid(), on_exit=self._poke,
                resume=handle,
            )  # fmt: skip
            self.supervisors[info.run_id] = sup
            sup.start()

    def _stop_supervisors(self) -> None:
        for sup in self.supervisors.values():
            sup.stop_requested.set()
        for sup in self.supervisors.values():
            sup.join()
        self.supervisors.clear()


def _prepared_python(info: RunInfo) -> str | None:
    """The interpreter a Queued cluster run was prepared with, when it still exists (an
    agent restart or `runyard envs prune` may have lost it: the run is prepared again)."""
    python = info.runtime.prepared_python
    return python if python is not None and os.path.exists(python) else None


def _hold_lock(layout: WorkspaceLayout) -> int | None:
    make_private_dir(layout.agent_dir)
    fd = os.open(lock_path(layout), os.O_RDWR | os.O_CREAT, 0o600)
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
    # Whatever the agent, SQLite and uv create is private; jobs get the user's umask back
    # (runyard._compute.processes): the files a script writes are the user's business.
    use_private_umask()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s agent[%(process)d] %(levelname)s %(message)s"
    )
    layout = WorkspaceLayout(Path(args[0]).resolve())
    os.chdir(layout.root)  # hold no submitter's folder open
    lock_fd = _hold_lock(layout)
    if lock_fd is None:
        log.info("another agent holds %s; exiting", lock_path(layout))
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
