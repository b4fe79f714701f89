"""Runs whose supervisor is gone: a new agent ends every agent-managed run that a dead
agent left active, keeping what the job logged and wrote."""

from __future__ import annotations

import logging

from runyard._entities import ACTIVE_STATUSES, RunInfo, RunStatus
from runyard._services import Services
from runyard._services.driver_log import driver_log_path
from runyard._services.job_results import SpoolIngester, upload_changed
from runyard._services.job_setup import remove_job_dir
from runyard._services.run_errors import agent_gone_error, failure_error, timeout_error
from runyard._services.scheduler import reattach
from runyard.exceptions import RunyardError

log = logging.getLogger(__name__)


def finish_orphan(services: Services, info: RunInfo) -> None:
    """Ends a run whose supervisor is gone (its agent died): keeps every metric it spooled,
    stops its job if it still runs, uploads what it left, marks it Failed. A run whose
    script had already exited (Finalizing, exit code recorded) ends by that code."""
    job_dir = services.layout.jobs_dir / info.run_id
    runtime = info.runtime
    if runtime.job is not None:
        handle = reattach(services, info.run_id, info.target, runtime.job)
        if handle is not None:
            handle.cancel(force=True)
            handle.sync()
    SpoolIngester(services, info.run_id, job_dir / "spool.bin").ingest()
    for folder in ("logs", "outputs"):
        upload_changed(services, info.run_id, job_dir / "wd" / folder, folder, {})
    code = runtime.exit_code
    error = None
    if info.status is RunStatus.CANCEL_REQUESTED:
        status = RunStatus.CANCELED
        if runtime.timed_out_after is not None:
            error = timeout_error(runtime.timed_out_after)
    elif info.status is RunStatus.FINALIZING and code is not None:
        # The script had ended; only its results' upload was cut short (done above).
        log.warning("run %s: finalized after its agent died (exit code %s)", info.run_id, code)
        status = RunStatus.COMPLETED
        if code != 0:
            script = str(info.definition.get("script", "?"))
            status = RunStatus.FAILED
            error = failure_error(script, code, driver_log_path(services, info.run_id))
    else:
        status = RunStatus.FAILED
        error = agent_gone_error(runtime.agent_pid, info.status, died=True)
    try:
        services.store.set_run_status(info.run_id, status, error=error, expected=ACTIVE_STATUSES)
    except RunyardError as exc:
        log.warning("run %s: not reconciled: %s", info.run_id, exc)
    remove_job_dir(job_dir)


def reconcile(services: Services) -> list[str]:
    """Ends every agent-managed run left active by a dead agent; queued runs stay queued.
    Call only while holding the agent lock (so no live supervisor owns these runs)."""
    ended = []
    active = services.store.list_runs(
        statuses=ACTIVE_STATUSES, include_children=True, agent_managed=True
    )
    for info in active:
        finish_orphan(services, info)
        ended.append(info.run_id)
    return ended
