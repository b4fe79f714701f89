"""One submitted run's life inside the agent: start it, follow it, finish it.

A ``Supervisor`` is one thread per running job. The job's stdout and stderr go straight to
the artifact file ``azureml-logs/70_driver_log.txt`` (the child holds its own descriptor), so
nothing is lost if the agent dies. The metric spool is ingested every ``TICK`` seconds and
``./logs`` uploaded live; ``./outputs`` is uploaded before the final status is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._entities import RunInfo, RunStatus
from runyard._services import Services
from runyard._services import job_setup as setup
from runyard._services.job_results import SpoolIngester, upload_changed
from runyard._services.snapshots import materialize
from runyard.exceptions import EnvironmentBuildStopped, RunyardError

log = logging.getLogger(__name__)

TICK = 0.5  # seconds between spool ingests / live log uploads / cancel checks
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL of a canceled job
ACTIVE = (
    RunStatus.PREPARING,
    RunStatus.STARTING,
    RunStatus.RUNNING,
    RunStatus.FINALIZING,
    RunStatus.CANCEL_REQUESTED,
)
DRIVER_LOG = "azureml-logs/70_driver_log.txt"
_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 40


# ---- the driver log ------------------------------------------------------------------------


def last_error_lines(driver_log: Path) -> list[str]:
    """The script's last traceback (or, without one, its last lines) from the driver log."""
    try:
        with open(driver_log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if starts:
        lines = lines[starts[-1] :]
    return lines[-_TAIL_LINES:]


def log_file(services: Services, run_id: str, name: str) -> Path:
    """Where a run's ``azureml-logs/<name>`` is written live: in the artifact store when it
    is a local folder, else in the job folder (uploaded at the end)."""
    path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/{name}")
    if path is None:
        path = services.layout.jobs_dir / run_id / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def remove_job_dir(job_dir: Path) -> None:
    """Removes a job's folder, its read-only dataset mounts included."""
    inputs = job_dir / "inputs"
    if inputs.exists():
        from runyard._services.datasets import remove_materialized

        remove_materialized(inputs)
    shutil.rmtree(job_dir, ignore_errors=True)


def append_driver_log(services: Services, run_id: str, *lines: str) -> None:
    with open(log_file(services, run_id, "70_driver_log.txt"), "a", encoding="utf-8") as f:
        f.writelines(f"{line}\n" for line in lines)


# ---- processes ---------------------------------------------------------------------------


def process_of_run(pid: int, run_id: str) -> bool:
    """True when ``pid`` is alive and is that run's job (a reused pid is not)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return f"{_jobenv.RUN_ID}={run_id}".encode() in environ.split(b"\0")


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def signal_text(returncode: int) -> str:
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "unknown signal"
    return f"killed by signal {-returncode} ({name})"


def failure_error(script: str, returncode: int, driver_log: Path | None) -> dict[str, Any]:
    lines = last_error_lines(driver_log) if driver_log is not None else []
    if returncode < 0:
        code, what = "ProcessKilled", f"was {signal_text(returncode)}"
    else:
        code, what = "UserError", f"exited with code {returncode}"
    tail = "\n".join(lines)
    message = f"The script {script!r} {what}."
    if tail:
        message += f" Last lines of {DRIVER_LOG}:\n{tail}"
    else:
        message += f" It wrote nothing to {DRIVER_LOG}."
    return {"code": code, "message": message, "exit_code": returncode, "last_error_lines": lines}


# ---- one job -----------------------------------------------------------------------------


def _workspace_identity(services: Services) -> dict[str, str]:
    import json

    try:
        data = json.loads(services.layout.workspace_json.read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    data.setdefault("name", services.layout.root.name)
    return {k: str(v) for k, v in data.items() if v is not None}


class Supervisor(threading.Thread):
    """Runs one claimed run to its end. ``stop_requested`` is set by the agent when it is
    told to stop: the job is killed and the run ends Failed, never silently requeued.

    A cluster run has two supervisors, as v1 orders its phases: the first (``needs_node``)
    prepares the environment and puts the run back to Queued with ``runtime["prepared"]``;
    the agent then gives it a node and a second one (``python`` set) starts it."""

    def __init__(
        self, services: Services, run_id: str, agent_pid: int, on_exit: Callable[[], None]
    ) -> None:
        super().__init__(name=f"supervisor-{run_id}", daemon=True)
        self.services, self.run_id, self.agent_pid = services, run_id, agent_pid
        self.on_exit = on_exit  # wakes the agent: a slot is free
        self.stop_requested = threading.Event()
        self.job_dir = services.layout.jobs_dir / run_id
        self.proc: subprocess.Popen[bytes] | None = None
        self.target = "local"
        self.needs_node = False  # a cluster run: after Preparing it waits Queued for a node
        self.python: str | None = None  # the prepared interpreter: Preparing is done
        self.preparing = True  # until the environment is ready (the agent bounds these)
        self.max_duration: float | None = None  # maxRunDurationSeconds of the definition
        self.timed_out = False

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # the agent must outlive any single job's failure
            log.exception("run %s: supervisor failed", self.run_id)
            self._set(RunStatus.FAILED, {"code": "SupervisorError", "message": repr(exc)})
            if self.proc is not None and self.proc.poll() is None:
                kill_group(self.proc.pid)
        finally:
            self.on_exit()

    def _set(
        self,
        status: RunStatus,
        error: Mapping[str, Any] | None = None,
        expected: Collection[RunStatus] | None = None,
    ) -> RunInfo | None:
        try:
            return self.services.store.set_run_status(
                self.run_id, status, error=error, expected=expected
            )
        except RunyardError as exc:  # already terminal (canceled under us): keep it
            log.info("run %s: not moved to %s: %s", self.run_id, status, exc)
            return None

    def _run(self) -> None:
        store = self.services.store
        store.update_run(self.run_id, runtime={"agent_pid": self.agent_pid})
        info = store.get_run(self.run_id)
        python = self.python or self._prepared(info)
        self.preparing = False
        if python is None:
            return self._end_unprepared()
        if self.stop_requested.is_set():  # the agent is stopping: never start the script
            status = store.get_run(self.run_id).status
            self._set(RunStatus.FAILED, agent_gone_error(self.agent_pid, status, "stopped"))
            return self._drop_job_dir()
        if self.needs_node:
            return self._queue_for_node(python)
        # A prepared cluster run was claimed Queued -> Starting by the agent, with its node.
        before = RunStatus.PREPARING if self.python is None else RunStatus.STARTING
        if self._set(RunStatus.STARTING, expected={before}) is None:
            return self._end_early()
        workdir = materialize(self.services.layout, info.definition["snapshot_id"], self._wd)
        try:
            inputs_dir = self.job_dir / "inputs"
            inputs = setup.materialize_inputs(self.services, info.definition, inputs_dir)
        except RunyardError as exc:
            self._drop_job_dir()
            self._set(RunStatus.FAILED, {"code": "DatasetInputFailed", "message": str(exc)})
            return None
        self.proc = self._start(info, workdir, python, inputs)
        store.update_run(
            self.run_id,
            runtime={"pid": self.proc.pid, "agent_pid": self.agent_pid, "workdir": str(workdir)},
        )
        if self._set(RunStatus.RUNNING, expected={RunStatus.STARTING}) is None:
            kill_group(self.proc.pid)
        self.max_duration = info.definition.get("maxRunDurationSeconds")
        self._follow(workdir)
        self._finish(info, workdir)

    @property
    def _wd(self) -> Path:
        return self.job_dir / "wd"

    @property
    def spool(self) -> Path:
        return self.job_dir / "spool.bin"

    def driver_log(self) -> Path:
        return log_file(self.services, self.run_id, "70_driver_log.txt")

    def _prepared(self, info: RunInfo) -> str | None:
        if setup.has_environment(info.definition):
            return self._prepare(info)
        return sys.executable

    def _queue_for_node(self, python: str) -> None:
        """Preparing is done: back to Queued until the agent has a node for the run."""
        self._drop_job_dir()  # the build log is kept; the job folder is made again on the node
        self.services.store.update_run(self.run_id, runtime={"prepared": python})
        if self._set(RunStatus.QUEUED, expected={RunStatus.PREPARING}) is None:
            self._end_early()  # canceled meanwhile

    def _prepare(self, info: RunInfo) -> str | None:
        """Preparing: builds or reuses the environment, logging into the build log; on a
        failure the run ends Failed with the builder's message and None is returned."""
        with open(log_file(self.services, self.run_id, "20_image_build_log.txt"), "a") as f:

            def line(text: str) -> None:
                f.write(text + "\n")
                f.flush()

            try:
                return setup.prepare_environment(
                    self.services, info.definition, line, should_stop=self._should_stop_build
                )
            except EnvironmentBuildStopped as exc:
                line(str(exc))
                return None  # _run ends the run: Canceled, or Failed (AgentStopped)
            except RunyardError as exc:
                message = f"Preparing the run's environment failed: {exc}"
                line(message)
                self._set(RunStatus.FAILED, {"code": type(exc).__name__, "message": message})
                return None

    def _should_stop_build(self) -> bool:
        if self.stop_requested.is_set():
            return True
        status = self.services.store.get_run(self.run_id).status
        return status is RunStatus.CANCEL_REQUESTED or status.is_terminal()

    def _start(
        self,
        info: RunInfo,
        workdir: Path,
        python: str,
        inputs: Mapping[str, tuple[str, str]],
    ) -> subprocess.Popen[bytes]:
        definition = info.definition
        self.spool.touch()
        built = python != sys.executable
        env = _jobenv.job_environment(
            base=os.environ,
            run_id=self.run_id,
            experiment_name=info.experiment_name,
            experiment_id=self.services.store.get_experiment(info.experiment_name).id,
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
        )
        arguments = setup.job_argv(list(definition.get("arguments", [])), inputs)
        argv = [python, definition["script"], *arguments]
        notices = setup.driver_log_notices(self.services, definition, info.target)
        with open(self.driver_log(), "ab") as out:
            out.write("".join(f"{n}\n" for n in notices).encode())
            out.flush()
            return subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _follow(self, workdir: Path) -> None:
        assert self.proc is not None
        ingester = SpoolIngester(self.services, self.run_id, self.spool)
        seen: dict[str, tuple[int, int]] = {}
        self.ingester, self.seen_logs = ingester, seen
        killing_since: float | None = None
        deadline = _now() + self.max_duration if self.max_duration else None
        while True:
            try:
                self.proc.wait(timeout=TICK)
                return
            except subprocess.TimeoutExpired:
                pass
            ingester.ingest()
            upload_changed(self.services, self.run_id, workdir / "logs", "logs", seen)
            if killing_since is None and deadline is not None and _now() > deadline:
                self._time_out()
            if killing_since is None and self._should_kill():
                kill_group(self.proc.pid, signal.SIGTERM)
                killing_since = _now()
            elif killing_since is not None and _now() - killing_since > KILL_GRACE:
                kill_group(self.proc.pid)

    def _time_out(self) -> None:
        """max_run_duration_seconds has passed: the run is canceled (v1: "the system will
        attempt to automatically cancel the run")."""
        if self._set(RunStatus.CANCEL_REQUESTED, expected={RunStatus.RUNNING}) is None:
            return  # finished or canceled meanwhile
        self.timed_out = True
        self.services.store.update_run(self.run_id, runtime={"timed_out": self.max_duration})
        append_driver_log(
            self.services,
            self.run_id,
            f"Runyard: the run exceeded max_run_duration_seconds={self.max_duration:g}; "
            "canceling it.",
        )

    def _should_kill(self) -> bool:
        if self.stop_requested.is_set():
            return True
        status = self.services.store.get_run(self.run_id).status
        return status is RunStatus.CANCEL_REQUESTED or status.is_terminal()

    def _finish(self, info: RunInfo, workdir: Path) -> None:
        assert self.proc is not None
        code = self.proc.returncode
        kill_group(self.proc.pid)  # stray children of the job die with it
        # Kept so that a next agent can finish this run by its exit code if we die now.
        self.services.store.update_run(self.run_id, runtime={"exit_code": code})
        status = self.services.store.get_run(self.run_id).status
        if status is RunStatus.RUNNING and not self.stop_requested.is_set():
            self._set(RunStatus.FINALIZING, expected={RunStatus.RUNNING})
        self.ingester.ingest()
        self._upload_results(workdir)
        error = None
        if self.stop_requested.is_set():
            final, error = RunStatus.FAILED, agent_gone_error(self.agent_pid, status, "stopped")
        elif status is RunStatus.CANCEL_REQUESTED:
            final = RunStatus.CANCELED
            if self.timed_out:
                error = timeout_error(self.max_duration)
        elif code == 0:
            final = RunStatus.COMPLETED
        else:
            final = RunStatus.FAILED
            error = failure_error(info.definition["script"], code, self.driver_log())
        # Clean up first: whoever sees the final status finds no working copy left behind.
        self._cleanup()
        self._set(final, error)

    def _upload_results(self, workdir: Path) -> None:
        upload_changed(self.services, self.run_id, workdir / "logs", "logs", self.seen_logs)
        upload_changed(self.services, self.run_id, workdir / "outputs", "outputs", {})
        self._upload_own_logs()

    def _upload_own_logs(self) -> None:
        for name in ("70_driver_log.txt", "20_image_build_log.txt"):
            own_log = self.job_dir / name
            if own_log.exists():
                self.services.artifacts.put_file(f"runs/{self.run_id}/azureml-logs/{name}", own_log)

    def _drop_job_dir(self) -> None:
        self._upload_own_logs()
        self._cleanup()

    def _end_unprepared(self) -> None:
        """No interpreter: the build failed (the run is Failed already), or it was stopped
        because the run was canceled (-> Canceled) or the agent is stopping (-> Failed)."""
        status = self.services.store.get_run(self.run_id).status
        if status is RunStatus.CANCEL_REQUESTED:
            self._set(RunStatus.CANCELED)
        elif not status.is_terminal():
            self._set(RunStatus.FAILED, agent_gone_error(self.agent_pid, status, "stopped"))
        self._drop_job_dir()

    def _end_early(self) -> None:
        status = self.services.store.get_run(self.run_id).status
        if status is RunStatus.CANCEL_REQUESTED:
            self._set(RunStatus.CANCELED)
        self._cleanup()

    def _cleanup(self) -> None:
        remove_job_dir(self.job_dir)


def _now() -> float:
    import time

    return time.monotonic()


def timeout_error(limit: Any) -> dict[str, Any]:
    return {
        "code": "MaxRunDurationExceeded",
        "message": (
            f"The run was canceled because it ran longer than max_run_duration_seconds="
            f"{limit:g}. Pass a larger value, e.g. ScriptRunConfig(..., "
            "max_run_duration_seconds=...) (v1's default is 2592000, 30 days)."
        ),
    }


# ---- runs whose supervisor is gone -------------------------------------------------------


def agent_gone_error(agent_pid: Any, status: RunStatus, how: str) -> dict[str, Any]:
    if how == "stopped":
        code, what = "AgentStopped", "was stopped (runyard agent stop / SIGTERM)"
    else:
        code, what = "AgentDied", "stopped unexpectedly"
    return {
        "code": code,
        "message": (
            f"The agent (pid {agent_pid if agent_pid is not None else 'unknown'}) that "
            f"supervised this run {what} while the run was {status.value}; the run's process "
            "was ended and its logged metrics kept. Rerun it (experiment.submit(config))."
        ),
    }


def finish_orphan(services: Services, info: RunInfo) -> None:
    """Ends a run whose supervisor is gone (its agent died): keeps every metric it spooled,
    kills its process group if still alive, uploads what it left, marks it Failed. A run
    whose script had already exited (Finalizing, exit code recorded) ends by that code."""
    job_dir = services.layout.jobs_dir / info.run_id
    pid = info.runtime.get("pid")
    if isinstance(pid, int) and process_of_run(pid, info.run_id):
        kill_group(pid)
    SpoolIngester(services, info.run_id, job_dir / "spool.bin").ingest()
    for folder in ("logs", "outputs"):
        upload_changed(services, info.run_id, job_dir / "wd" / folder, folder, {})
    code = info.runtime.get("exit_code")
    if info.status is RunStatus.CANCEL_REQUESTED:
        status, error = RunStatus.CANCELED, None
        if info.runtime.get("timed_out"):
            error = timeout_error(info.runtime["timed_out"])
    elif info.status is RunStatus.FINALIZING and isinstance(code, int):
        # The script had ended; only its results' upload was cut short (done above).
        log.warning("run %s: finalized after its agent died (exit code %s)", info.run_id, code)
        status, error = RunStatus.COMPLETED, None
        if code != 0:
            script = str(info.definition.get("script", "?"))
            status = RunStatus.FAILED
            error = failure_error(
                script, code, log_file(services, info.run_id, "70_driver_log.txt")
            )
    else:
        status = RunStatus.FAILED
        error = agent_gone_error(info.runtime.get("agent_pid"), info.status, "died")
    try:
        services.store.set_run_status(info.run_id, status, error=error, expected=ACTIVE)
    except RunyardError as exc:
        log.warning("run %s: not reconciled: %s", info.run_id, exc)
    remove_job_dir(job_dir)


def reconcile(services: Services) -> list[str]:
    """Ends every agent-run run left active by a dead agent; queued runs stay queued.
    Call only while holding the agent lock (so no live supervisor owns these runs)."""
    ended = []
    for info in services.store.list_runs(statuses=ACTIVE, include_children=True):
        if "snapshot_id" in info.definition:
            finish_orphan(services, info)
            ended.append(info.run_id)
    return ended
