"""The errors Runyard gives a run when it ends it: a script's exit, a kill, a lost agent,
a timeout."""

from __future__ import annotations

import contextlib
import errno
import json
import signal
from pathlib import Path

from runyard._entities import ErrorCode, RunError, RunStatus
from runyard._services.driver_log import DRIVER_LOG, last_error_lines
from runyard.exceptions import DiskFull, RunyardError

PENDING_ERROR = "pending_error.json"  # in the job folder


def signal_text(returncode: int) -> str:
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown signal"
    return f"killed by signal {-returncode} ({name})"


def failure_error(script: str, returncode: int, driver_log: Path | None) -> RunError:
    """The script ended with a non-zero exit code or was killed by a signal."""
    lines = last_error_lines(driver_log) if driver_log is not None else []
    if returncode < 0:
        code, what = ErrorCode.PROCESS_KILLED, f"was {signal_text(returncode)}"
    else:
        code, what = ErrorCode.USER_ERROR, f"exited with code {returncode}"
    tail = "\n".join(lines)
    message = f"The script {script!r} {what}."
    if tail:
        message += f" Last lines of {DRIVER_LOG}:\n{tail}"
    else:
        message += f" It wrote nothing to {DRIVER_LOG}."
    return RunError(code, message, exit_code=returncode, last_error_lines=tuple(lines))


def agent_gone_error(
    agent_pid: int | None, status: RunStatus, *, died: bool, process: str = "was ended"
) -> RunError:
    """The agent supervising the run was stopped (``died=False``) or disappeared;
    ``process`` says what became of the run's process ("was ended", "was not running")."""
    if died:
        code, what = ErrorCode.AGENT_DIED, "stopped unexpectedly"
    else:
        code, what = ErrorCode.AGENT_STOPPED, "was stopped (runyard agent stop / SIGTERM)"
    return RunError(
        code,
        f"The agent (pid {agent_pid if agent_pid is not None else 'unknown'}) that "
        f"supervised this run {what} while the run was {status.value}; the run's process "
        f"{process} and its logged metrics were kept. Rerun it (experiment.submit(config)).",
    )


def timeout_error(limit: float) -> RunError:
    return RunError(
        ErrorCode.MAX_RUN_DURATION_EXCEEDED,
        f"The run was canceled because it ran longer than max_run_duration_seconds="
        f"{limit:g}. Pass a larger value, e.g. ScriptRunConfig(..., "
        "max_run_duration_seconds=...) (v1's default is 2592000, 30 days).",
    )


def supervision_error(exc: BaseException) -> RunError:
    """Why supervising a run failed, for its error: a full disk says where and how much is
    free; our own errors keep their message; anything else is a bug of ours, named."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        exc = DiskFull(str(exc.filename or "?"), "the run's files")
    if isinstance(exc, DiskFull):
        return RunError(ErrorCode.DISK_FULL, str(exc))
    if isinstance(exc, RunyardError):
        return RunError(ErrorCode.SUPERVISOR_ERROR, f"Supervising the run failed: {exc}")
    return RunError(
        ErrorCode.SUPERVISOR_ERROR,
        f"Supervising the run failed ({type(exc).__name__}: {exc}); see the agent's log "
        "(agent/agent.log in the workspace folder) and report it.",
    )


def save_pending_error(job_dir: Path, error: RunError) -> None:
    """Keeps an error the store could not take (full disk) beside the job, so that the agent,
    or the next one, ends the run with it once the store can be written."""
    with contextlib.suppress(OSError):
        (job_dir / PENDING_ERROR).write_text(json.dumps(error.to_dict()))


def pending_error(job_dir: Path) -> RunError | None:
    try:
        data = json.loads((job_dir / PENDING_ERROR).read_text())
    except (OSError, ValueError):
        return None
    code = data.get("code", ErrorCode.SUPERVISOR_ERROR.value)
    known = {c.value for c in ErrorCode}
    return RunError(ErrorCode(code) if code in known else str(code), str(data.get("message")))
