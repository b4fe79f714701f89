"""Runs whose supervisor is gone: a new agent ends every agent-managed run that a dead
agent left active, keeping what the job logged and wrote."""

from __future__ import annotations

import logging

from runyard._compute.job_wrapper import read_status
from runyard._compute.ray_config import RAY_TYPE
from runyard._entities import ACTIVE_STATUSES, RunError, RunInfo, RunStatus
from runyard._services import Services
from runyard._services.driver_log import driver_log_path
from runyard._services.job_ranks import rank_ingesters
from runyard._services.job_results import SpoolIngester
from runyard._services.job_setup import remove_job_dir
from runyard._services.job_uploads import finish_outputs, upload_changed
from runyard._services.run_errors import (
    agent_gone_error,
    failure_error,
    pending_error,
    timeout_error,
)
from runyard._services.scheduler import reattach
from runyard._services.supervisor import EXIT_STATUS
from runyard._services.sweeps import RUN_TYPE as SWEEP_RUN_TYPE
from runyard.exceptions import InvalidStatusTransition, RunyardError

log = logging.getLogger(__name__)
RESUMABLE_BACKENDS = frozenset({RAY_TYPE})  # their jobs run on when the agent dies


def finish_orphan(services: Services, info: RunInfo, error: RunError | None = None) -> None:
    """Ends a run whose supervisor is gone (its agent died): keeps every metric it spooled,
    stops its job if it still runs, uploads what it left, and ends it by what happened: by
    the script's exit code when the script had ended (recorded by the supervisor, or by the
    job's wrapper in the job folder), else Failed (AgentDied)."""
    job_dir = services.layout.jobs_dir / info.run_id
    runtime = info.runtime
    was_running = False
    if runtime.job is not None:
        handle = reattach(services, info.run_id, info.target, runtime.job)
        if handle is not None:
            was_running = handle.running()
            handle.cancel(force=True)
            handle.sync()
    code = runtime.exit_code
    if code is None and not was_running:
        code = read_status(job_dir / EXIT_STATUS)
    SpoolIngester(services, info.run_id, job_dir / "spool.bin").ingest()
    for ingester in rank_ingesters(services, info.run_id, job_dir / "spool.bin"):
        ingester.ingest()  # a distributed run's other ranks
    for folder in ("logs", "outputs"):
        upload_changed(services, info.run_id, job_dir / "wd" / folder, folder, {})
    error = error or pending_error(job_dir)
    if error is not None and info.status is not RunStatus.CANCEL_REQUESTED:
        status = RunStatus.FAILED  # supervising it failed: that is what happened
    else:
        status, error = _outcome(services, info, code, was_running)
    status, error = finish_outputs(
        services, info.run_id, info.definition, job_dir / "wd", status, error
    )
    try:
        services.store.set_run_status(info.run_id, status, error=error, expected=ACTIVE_STATUSES)
    except InvalidStatusTransition as exc:  # ended meanwhile: nothing to do
        log.warning("run %s: not reconciled: %s", info.run_id, exc)
    # A store that cannot take the end (a full disk) raised above: the job folder, with a
    # pending error in it, stays for the retry; the run is never left active for good.
    remove_job_dir(job_dir)


def _outcome(
    services: Services, info: RunInfo, code: int | None, was_running: bool
) -> tuple[RunStatus, RunError | None]:
    runtime = info.runtime
    if info.status is RunStatus.CANCEL_REQUESTED:
        if runtime.timed_out_after is not None:
            return RunStatus.CANCELED, timeout_error(runtime.timed_out_after)
        return RunStatus.CANCELED, None
    if code is not None and info.status in (RunStatus.RUNNING, RunStatus.FINALIZING):
        # The script had ended; only the rest was cut short (its results are uploaded above).
        log.warning("run %s: finished after its agent died (exit code %s)", info.run_id, code)
        if code == 0:
            return RunStatus.COMPLETED, None
        script = str(info.definition.get("script", "?"))
        return RunStatus.FAILED, failure_error(script, code, driver_log_path(services, info.run_id))
    ended = "was ended" if was_running else "was not running"
    return RunStatus.FAILED, agent_gone_error(
        runtime.agent_pid, info.status, died=True, process=ended
    )


def can_resume(info: RunInfo) -> bool:
    """True for a run whose job outlives its agent (Ray's detached actors) and was running:
    a new agent follows it on instead of ending it."""
    job = info.runtime.job
    return (
        job is not None
        and job.backend in RESUMABLE_BACKENDS
        and info.status in (RunStatus.RUNNING, RunStatus.CANCEL_REQUESTED)
        and bool(info.runtime.workdir)
    )


def reconcile(services: Services) -> list[str]:
    """Ends every agent-managed run left active by a dead agent; queued runs stay queued.
    Call only while holding the agent lock (so no live supervisor owns these runs)."""
    ended = []
    active = services.store.list_runs(
        statuses=ACTIVE_STATUSES, include_children=True, agent_managed=True
    )
    for info in active:
        if info.run_type == SWEEP_RUN_TYPE:
            continue  # no process of its own: the new agent's sweep loop carries it on
        if can_resume(info):
            continue  # the new agent follows it on (Agent._resume)
        try:
            finish_orphan(services, info)
        except RunyardError as exc:  # the store cannot take it yet (a full disk)
            log.warning("run %s: not reconciled yet: %s", info.run_id, exc)
            continue
        ended.append(info.run_id)
    return ended
