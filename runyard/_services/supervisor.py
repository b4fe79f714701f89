"""One submitted run's life inside the agent: prepare it, launch it, follow it, finish it.

A ``Supervisor`` is one thread per claimed run. It never touches processes: it prepares a
``JobSpec`` (working copy, environment, driver log) and hands it to the run's compute
backend, which launches it and returns a ``JobHandle``. The job's stdout and stderr go
straight to the artifact file ``azureml-logs/70_driver_log.txt``, so nothing is lost if the
agent dies. The metric spool is ingested every ``TICK`` seconds and ``./logs`` uploaded
live; ``./outputs`` is uploaded before the final status is set.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from runyard import _jobenv
from runyard._compute.base import ComputeBackend, JobHandle, JobSpec
from runyard._compute.gang import GangHandle, launch_gang
from runyard._compute.ranks import RANK_LOG, Distribution, distribution_of
from runyard._entities import ACTIVE_STATUSES, ErrorCode, RunError, RunInfo, RunRuntime, RunStatus
from runyard._services import Services, job_ranks
from runyard._services import job_setup as setup
from runyard._services import run_attempts as attempts
from runyard._services.driver_log import (
    BUILD_LOG_NAME,
    DRIVER_LOG_NAME,
    append_driver_log,
    driver_log_path,
    log_file,
)
from runyard._services.job_results import SpoolIngester
from runyard._services.job_uploads import finish_outputs, upload_changed
from runyard._services.run_errors import (
    agent_gone_error,
    failure_error,
    save_pending_error,
    supervision_error,
    timeout_error,
)
from runyard._services.snapshots import materialize
from runyard.exceptions import EnvironmentBuildStopped, RunyardError

log = logging.getLogger(__name__)

_experiment_ids: dict[tuple[str, str], str] = {}  # (workspace root, experiment name) -> id
EXIT_STATUS = "exit_status.json"  # in the job folder: the job's exit code, written durably
TICK = 0.5  # seconds between spool ingests / live log uploads / cancel checks
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL of a canceled job


def _workspace_identity(services: Services) -> dict[str, str]:
    try:
        data = json.loads(services.layout.workspace_json.read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    data.setdefault("name", services.layout.root.name)
    return {k: str(v) for k, v in data.items() if v is not None}


class Supervisor(threading.Thread):
    """Runs one claimed run to its end. ``stop_requested`` is set by the agent when it is
    told to stop: the job is killed and the run ends Failed, never silently requeued.

    A run on a backend that ``queues_for_node`` (a cluster) has two supervisors, as v1
    orders its phases: the first (``needs_node``) prepares the environment and puts the run
    back to Queued with ``runtime.prepared_python``; the agent then gives it a node and a
    second one (``python`` set) starts it."""

    def __init__(
        self,
        services: Services,
        info: RunInfo,
        backend: ComputeBackend,
        *,
        agent_pid: int,
        on_exit: Callable[[], None],
        python: str | None = None,
        resume: JobHandle | None = None,
    ) -> None:
        super().__init__(name=f"supervisor-{info.run_id}", daemon=True)
        self.services, self.run_id, self.agent_pid = services, info.run_id, agent_pid
        self.claimed = info  # as the agent's claim left it
        self.target, self.backend = info.target, backend
        self.on_exit = on_exit  # wakes the agent: a slot is free
        self.stop_requested = threading.Event()
        self.job_dir = services.layout.jobs_dir / info.run_id
        self.handle: JobHandle | None = None
        # A cluster run: after Preparing it waits Queued for a node.
        self.needs_node = backend.queues_for_node and python is None
        self.python = python  # the prepared interpreter: Preparing is done
        self.preparing = True  # until the environment is ready (the agent bounds these)
        self.max_duration: float | None = None  # maxRunDurationSeconds of the definition
        self.timed_out = False
        self.unfinished: RunError | None = None  # set when the run could not be ended
        self.fresh_spool = False  # the job's spool was made by this supervisor
        self.node_lost: RunError | None = None  # the run's node died and no retry is left
        self.final: RunInfo | None = None  # the run as its end left it
        self.distribution: Distribution | None = None  # a distributed run's ranks
        # A job a dead agent launched on a backend whose jobs outlive it (Ray): followed to
        # its end from where that agent stopped.
        self.resume = resume
        if resume is not None:
            self.needs_node = self.preparing = False

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # the agent must outlive any single job's failure
            log.exception("run %s: supervisor failed", self.run_id)
            if self.handle is not None:
                self.handle.cancel(force=True)
            self._fail(supervision_error(exc))
        finally:
            self.on_exit()

    def _fail(self, error: RunError) -> None:
        """Ends the run Failed with ``error`` after supervising it failed. When the store
        cannot take it either (a full disk), the error is kept beside the job and
        ``unfinished`` set: the agent ends the run with it once the store can be written."""
        try:
            self.services.store.set_run_status(
                self.run_id, RunStatus.FAILED, error=error, expected=ACTIVE_STATUSES
            )
        except Exception as again:  # the store itself fails: never leave the run behind
            log.error("run %s: could not be marked Failed yet: %s", self.run_id, again)
            save_pending_error(self.job_dir, error)
            self.unfinished = error
            return
        self._cleanup()

    def _set(
        self,
        status: RunStatus,
        error: RunError | None = None,
        expected: Collection[RunStatus] | None = None,
        runtime: RunRuntime | None = None,
    ) -> RunInfo | None:
        try:
            return self.services.store.set_run_status(
                self.run_id, status, error=error, expected=expected, runtime=runtime
            )
        except RunyardError as exc:  # already terminal (canceled under us): keep it
            log.info("run %s: not moved to %s: %s", self.run_id, status, exc)
            return None

    def _status(self) -> RunStatus:
        return self.services.store.get_run(self.run_id).status

    def _stopped_error(self, status: RunStatus) -> RunError:
        return agent_gone_error(self.agent_pid, status, died=False)

    def _run(self) -> None:
        store = self.services.store
        info = self.claimed
        if info.runtime.agent_pid != self.agent_pid:  # not claimed with our pid (one write)
            info = store.update_run(self.run_id, runtime=RunRuntime(agent_pid=self.agent_pid))
        if self.resume is not None:
            return self._follow_resumed(info, self.resume)
        python = self.python or self._prepared(info)
        self.preparing = False
        if python is None:
            return self._end_unprepared()
        if self.stop_requested.is_set():  # the agent is stopping: never start the script
            self._set(RunStatus.FAILED, self._stopped_error(self._status()))
            return self._drop_job_dir()
        if self.needs_node:
            return self._queue_for_node(python)
        # A prepared cluster run, or one with nothing to prepare, was claimed Starting (a
        # cancel meanwhile is seen when it moves to Running).
        starting = info.status is RunStatus.STARTING or self._set(
            RunStatus.STARTING, expected={RunStatus.PREPARING}
        )
        if not starting:
            return self._end_early()
        workdir = materialize(self.services.layout, info.definition["snapshot_id"], self._wd)
        try:
            inputs_dir = self.job_dir / "inputs"
            inputs = setup.materialize_inputs(self.services, info.definition, inputs_dir)
            outputs = setup.prepare_outputs(self.services, info.definition, workdir)
        except RunyardError as exc:
            self._drop_job_dir()
            self._set(RunStatus.FAILED, RunError(ErrorCode.DATASET_INPUT_FAILED, str(exc)))
            return None
        self.handle = self._launch(info, self._job_spec(info, workdir, python, inputs, outputs))
        runtime = RunRuntime(
            job=self.handle.ref,
            agent_pid=self.agent_pid,
            workdir=str(workdir),
            placement=tuple(self.handle.placement()) or None,
        )
        if self._set(RunStatus.RUNNING, expected={RunStatus.STARTING}, runtime=runtime) is None:
            store.update_run(self.run_id, runtime=runtime)  # a next agent must find the job
            self.handle.cancel(force=True)
        self.max_duration = info.definition.get("maxRunDurationSeconds")
        code = self._follow(self.handle, workdir)
        if not self._retried(info, workdir, self.handle, python):
            self._finish(info, workdir, self.handle, code)

    def _follow_resumed(self, info: RunInfo, handle: JobHandle) -> None:
        """The job runs on, launched by a dead agent: its logs and metrics are taken from
        where that agent stopped (the spool's offset is in the store, the backend's own
        offsets beside the job), and the run ends by the job's real outcome."""
        assert info.runtime.workdir is not None
        self.handle, workdir = handle, Path(info.runtime.workdir)
        self.timed_out = info.runtime.timed_out_after is not None
        self.max_duration = None if self.timed_out else info.definition.get("maxRunDurationSeconds")
        self.distribution = distribution_of(info.definition)
        self.services.store.update_run(
            self.run_id,
            runtime=RunRuntime(job=handle.ref, agent_pid=self.agent_pid, workdir=str(workdir)),
        )
        append_driver_log(
            self.services, self.run_id, f"Runyard: agent {self.agent_pid} follows the run on."
        )
        code = self._follow(handle, workdir)
        python = info.runtime.prepared_python or sys.executable
        if not self._retried(info, workdir, handle, python):
            self._finish(info, workdir, handle, code)

    def _release_nodes(self, info: RunInfo) -> None:
        node_id = info.runtime.node_id
        if not node_id or not self.backend.release_at_job_end:
            return
        try:
            self.backend.release_node(node_id, time.time())
        except Exception as exc:  # the agent's tick releases them later
            log.warning("run %s: its nodes were not released yet: %s", self.run_id, exc)

    def _retried(self, info: RunInfo, workdir: Path, handle: JobHandle, python: str) -> bool:
        """The job's node was lost under it (not a cancel, not this agent stopping): True
        once the run is Queued again for another node, its attempt recorded, what it
        logged and wrote kept; False to end it (``_finish`` names the node when no retry
        is left)."""
        lost = handle.lost_node()
        if lost is None or self.stop_requested.is_set() or self._status() is not RunStatus.RUNNING:
            return False
        current = self.services.store.get_run(self.run_id)
        limit = attempts.max_retries(info.definition)
        tried = [*(current.runtime.attempts or ())]
        tried.append(attempts.attempt_record(len(tried) + 1, lost, handle.placement(),
                                             current.start_time))  # fmt: skip
        self.services.store.update_run(self.run_id, runtime=RunRuntime(attempts=tuple(tried)))
        if len(tried) > limit:
            self.node_lost = attempts.lost_error(lost, len(tried), limit, handle.placement())
            return False
        for ingester in self.ingesters:
            ingester.ingest()
        append_driver_log(self.services, self.run_id, attempts.retry_line(lost, len(tried), limit))
        self._upload_results(workdir)
        handle.cancel(force=True)  # what is left of the job on its other nodes
        if current.runtime.node_id:  # its nodes go: the retry is placed afresh
            self.backend.release_node(current.runtime.node_id, time.time())
        self._cleanup()
        queued = RunRuntime(prepared_python=python, exit_code=None)
        if self._set(RunStatus.QUEUED, expected={RunStatus.RUNNING}, runtime=queued) is None:
            self._end_early()  # canceled meanwhile
        return True

    def _launch(self, info: RunInfo, job: JobSpec) -> JobHandle:
        """The run's job: one process, or a distributed run's ranks on each of its nodes."""
        self.distribution = distribution_of(info.definition)
        if self.distribution is None:
            return self.backend.launch(job)
        nodes = job_ranks.node_jobs(self.services, self.backend, job, self.distribution)
        return launch_gang(self.backend, nodes)

    @property
    def _wd(self) -> Path:
        return self.job_dir / "wd"

    @property
    def spool(self) -> Path:
        return self.job_dir / "spool.bin"

    def driver_log(self) -> Path:
        return driver_log_path(self.services, self.run_id)

    def _prepared(self, info: RunInfo) -> str | None:
        if setup.has_environment(info.definition):
            return self._prepare(info)
        return sys.executable

    def _queue_for_node(self, python: str) -> None:
        """Preparing is done: back to Queued until the agent has a node for the run."""
        self._drop_job_dir()  # the build log is kept; the job folder is made again on the node
        self.services.store.update_run(self.run_id, runtime=RunRuntime(prepared_python=python))
        if self._set(RunStatus.QUEUED, expected={RunStatus.PREPARING}) is None:
            self._end_early()  # canceled meanwhile

    def _prepare(self, info: RunInfo) -> str | None:
        """Preparing: builds or reuses the environment, logging into the build log; on a
        failure the run ends Failed with the builder's message and None is returned."""
        with open(log_file(self.services, self.run_id, BUILD_LOG_NAME), "a") as f:

            def line(text: str) -> None:
                f.write(text + "\n")
                f.flush()

            try:
                return setup.prepare_environment(
                    self.services, info.definition, line, should_stop=self._should_stop
                )
            except EnvironmentBuildStopped as exc:
                line(str(exc))
                return None  # _run ends the run: Canceled, or Failed (AgentStopped)
            except RunyardError as exc:
                message = f"Preparing the run's environment failed: {exc}"
                line(setup.build_failure_line(exc))
                self._set(RunStatus.FAILED, RunError(type(exc).__name__, message))
                return None

    def _should_stop(self) -> bool:
        """The agent is stopping, or the run was canceled (or ended) under us."""
        if self.stop_requested.is_set():
            return True
        status = self._status()
        return status is RunStatus.CANCEL_REQUESTED or status.is_terminal()

    def _job_spec(
        self,
        info: RunInfo,
        workdir: Path,
        python: str,
        inputs: Mapping[str, tuple[str, str]],
        outputs: Mapping[str, str],
    ) -> JobSpec:
        definition = info.definition
        self.fresh_spool = not self.spool.exists()  # nothing of it ingested yet: offset 0
        self.spool.touch()
        built = python != sys.executable
        env = _jobenv.job_environment(
            base=os.environ,
            run_id=self.run_id,
            experiment_name=info.experiment_name,
            experiment_id=self._experiment_id(info.experiment_name),
            workspace=_workspace_identity(self.services),
            workspace_dir=self.services.layout.root,
            home=self.services.settings.home,
            spool=self.spool,
            source_directory=str(definition.get("source_directory", "")),
            script=definition["script"],
            target=info.target,
            user_variables=definition.get("environment_variables") or {},
            python_path=setup.job_python_path(self.services, built),
            datasets=inputs,
            outputs=outputs,
        )
        arguments = setup.job_argv(list(definition.get("arguments", [])), inputs, outputs)
        notices = setup.driver_log_notices(self.services, definition, info.target)
        if notices:
            append_driver_log(self.services, self.run_id, *notices)
        return JobSpec(
            run_id=self.run_id,
            argv=(python, definition["script"], *arguments),
            cwd=workdir,
            env=env,
            driver_log=self.driver_log(),
            node_id=info.runtime.node_id,
            status_file=self.job_dir / EXIT_STATUS,
            environment=setup.run_environment(definition) if built else None,
            attempt=len(info.runtime.attempts or ()),
        )

    def _experiment_id(self, name: str) -> str:
        key = (str(self.services.layout.root), name)
        if key not in _experiment_ids:  # an experiment keeps its id: read once per agent
            _experiment_ids[key] = self.services.store.get_experiment(name).id
        return _experiment_ids[key]

    def _follow(self, handle: JobHandle, workdir: Path) -> int | None:
        """Until the job ends: ingests its spool, uploads ./logs, enforces the time limit
        and cancels it when asked. Returns its exit code."""
        offset = 0 if self.fresh_spool else None
        self.ingesters = [
            SpoolIngester(self.services, self.run_id, self.spool, offset=offset),
            *job_ranks.rank_ingesters(self.services, self.run_id, self.spool),
        ]
        self.seen_logs: dict[str, tuple[int, int]] = {}
        killing_since: float | None = None
        deadline = time.monotonic() + self.max_duration if self.max_duration else None
        while True:
            code = handle.wait(TICK)
            handle.sync()
            if code is not None:
                return code
            if not handle.running():
                return None  # gone without an exit code we can know
            for ingester in self.ingesters:
                ingester.ingest()
            upload_changed(self.services, self.run_id, workdir / "logs", "logs", self.seen_logs)
            if killing_since is None and deadline is not None and time.monotonic() > deadline:
                self._time_out()
            if killing_since is None and self._should_stop():
                handle.cancel()
                killing_since = time.monotonic()
            elif killing_since is not None and time.monotonic() - killing_since > KILL_GRACE:
                handle.cancel(force=True)

    def _time_out(self) -> None:
        """max_run_duration_seconds has passed: the run is canceled (v1: "the system will
        attempt to automatically cancel the run")."""
        if self._set(RunStatus.CANCEL_REQUESTED, expected={RunStatus.RUNNING}) is None:
            return  # finished or canceled meanwhile
        assert self.max_duration is not None
        self.timed_out = True
        self.services.store.update_run(
            self.run_id, runtime=RunRuntime(timed_out_after=self.max_duration)
        )
        append_driver_log(
            self.services,
            self.run_id,
            f"Runyard: the run exceeded max_run_duration_seconds={self.max_duration:g}; "
            "canceling it.",
        )

    def _finish(self, info: RunInfo, workdir: Path, handle: JobHandle, code: int | None) -> None:
        handle.cancel(force=True)  # stray children of the job die with it
        self._release_nodes(info)
        if code is None:
            code = -9  # it vanished: treat it as killed
        # Kept so that a next agent can finish this run by its exit code if we die now.
        exited = RunRuntime(exit_code=code)
        moved = None
        if not self.stop_requested.is_set():
            moved = self._set(RunStatus.FINALIZING, expected={RunStatus.RUNNING}, runtime=exited)
        # Canceled, timed out or stopping: no Finalizing, but the exit code is kept as well.
        status = (
            RunStatus.RUNNING
            if moved is not None
            else self.services.store.update_run(self.run_id, runtime=exited).status
        )
        for ingester in self.ingesters:
            ingester.ingest()
        error = None
        if self.stop_requested.is_set():
            final, error = RunStatus.FAILED, self._stopped_error(status)
        elif status is RunStatus.CANCEL_REQUESTED:
            final = RunStatus.CANCELED
            if self.timed_out and self.max_duration is not None:
                error = timeout_error(self.max_duration)
        elif code == 0:
            final = RunStatus.COMPLETED
        elif self.node_lost is not None:
            final, error = RunStatus.FAILED, self.node_lost
        elif isinstance(handle, GangHandle):
            final = RunStatus.FAILED
            error = job_ranks.rank_failure(
                self.services, info.definition, self.run_id, self.job_dir,
                self.job_dir / EXIT_STATUS, code, handle.failed_node,
            )  # fmt: skip
        else:
            final = RunStatus.FAILED
            error = failure_error(info.definition["script"], code, self.driver_log())
        final, error = finish_outputs(
            self.services, self.run_id, info.definition, workdir, final, error
        )
        self._upload_results(workdir)
        # Clean up first: whoever sees the final status finds no working copy left behind.
        self._cleanup()
        self.final = self._set(final, error)

    def _upload_results(self, workdir: Path) -> None:
        upload_changed(self.services, self.run_id, workdir / "logs", "logs", self.seen_logs)
        upload_changed(self.services, self.run_id, workdir / "outputs", "outputs", {})
        self._upload_own_logs()

    def _upload_own_logs(self) -> None:
        ranks = sorted(p.name for p in self.job_dir.glob(RANK_LOG.format(rank="*")))
        for name in (DRIVER_LOG_NAME, BUILD_LOG_NAME, *ranks):
            own_log = self.job_dir / name
            if own_log.exists():
                self.services.artifacts.put_file(f"runs/{self.run_id}/azureml-logs/{name}", own_log)

    def _drop_job_dir(self) -> None:
        self._upload_own_logs()
        self._cleanup()

    def _end_unprepared(self) -> None:
        """No interpreter: the build failed (the run is Failed already), or it was stopped
        because the run was canceled (-> Canceled) or the agent is stopping (-> Failed)."""
        status = self._status()
        if status is RunStatus.CANCEL_REQUESTED:
            self._set(RunStatus.CANCELED)
        elif not status.is_terminal():
            self._set(RunStatus.FAILED, self._stopped_error(status))
        self._drop_job_dir()

    def _end_early(self) -> None:
        if self._status() is RunStatus.CANCEL_REQUESTED:
            self._set(RunStatus.CANCELED)
        self._cleanup()

    def _cleanup(self) -> None:
        setup.remove_job_dir(self.job_dir)
