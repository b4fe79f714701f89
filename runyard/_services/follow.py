"""Following a run until it ends: phases, the build log, then the driver log, streamed live.

Phases are printed in lifecycle order, also those a run passed between two polls. Each log
is read by byte offset, so each byte is printed exactly once: no gap, no duplicate. What
arrives is printed at once, a partial line too (``\r`` progress bars, tqdm, show while they
move); a line of our own (a phase, a header) first ends an open line with a newline.
"""

from __future__ import annotations

import codecs
import time
from pathlib import Path
from typing import TextIO

from runyard._compute import LOCAL
from runyard._entities import RunInfo, RunStatus
from runyard._services import Services
from runyard._services.agent_client import agent_pid, ensure_agent
from runyard._services.driver_log import BUILD_LOG, DRIVER_LOG
from runyard._services.sweeps import RUN_TYPE as SWEEP_RUN_TYPE
from runyard._services.sweeps import SWEEP_ENDED, SWEEP_LOG
from runyard.exceptions import ExperimentExecutionException

_AGENT_CHECK_EVERY = 2.0  # seconds between liveness checks of the agent while waiting
_WATCH_EVERY = 0.02  # seconds between looks at a sweep's log while waiting for its end
_FAST_FOR = 1.0  # seconds the store is read every _WATCH_EVERY once the log says it ended
SCALING = "Scaling"  # not a run status: the run waited Queued while its cluster grew
NODE_WAIT = "QueuedForNode"  # Queued again, after Preparing: a cluster run waits for a node
_PHASE_LINES = {
    RunStatus.PREPARING.value: "Preparing: building or reusing the run's environment",
    RunStatus.STARTING.value: "Starting: copying the snapshot into the working directory",
    RunStatus.RUNNING.value: "Running",
    RunStatus.CANCEL_REQUESTED.value: "CancelRequested: stopping the script",
    RunStatus.FINALIZING.value: "Post-Processing: uploading ./outputs to the run history",
}
# The phases a run passes through, in order, as v1 orders them: the environment is prepared
# before the run waits for compute (CancelRequested is shown only when seen).
_LIFECYCLE = (
    RunStatus.QUEUED.value,
    RunStatus.PREPARING.value,
    NODE_WAIT,
    SCALING,
    RunStatus.STARTING.value,
    RunStatus.RUNNING.value,
    RunStatus.FINALIZING.value,
)
_AFTER_BUILD = frozenset(_LIFECYCLE[_LIFECYCLE.index(NODE_WAIT) :])
_SEPARATOR = "=" * 80


class _LogTail:
    """Prints what one file gains, by byte offset, as it comes (partial lines too)."""

    def __init__(self, path: Path | None, out: TextIO) -> None:
        self.path, self.out = path, out
        self.offset = 0
        # A UTF-8 character cut between two reads waits for its other bytes, no more.
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.open_line = False  # what was printed last does not end with a newline
        self.started = False

    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def pump(self, *, final: bool = False) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        self.offset += len(data)
        text = self.decoder.decode(data, final=final)
        if text:
            self.out.write(text)
            self.open_line = not text.endswith("\n")
        if final:
            self.end_line()
        if text or final:
            self.out.flush()

    def end_line(self) -> None:
        """Ends an open partial line, so that a line of our own starts on its own."""
        if self.open_line:
            self.out.write("\n")
            self.open_line = False


def _header(info: RunInfo, services: Services, out: TextIO) -> None:
    where = services.layout.artifacts_dir / "runs" / info.run_id
    out.write(f"RunId: {info.run_id}\nWeb View: file://{where}\n\n")
    out.flush()


def _reached(info: RunInfo) -> int:
    """Index in _LIFECYCLE of the last phase the run reached, from its status and what its
    supervisors recorded (a run that failed while Preparing never ran)."""
    status, runtime = info.status, info.runtime
    waited = _LIFECYCLE.index(SCALING if runtime.scaling else NODE_WAIT)
    prepared = info.target != LOCAL and bool(runtime.prepared_python)
    if status is RunStatus.QUEUED:
        return waited if prepared else 0
    if status.value in _LIFECYCLE:
        return _LIFECYCLE.index(status.value)
    if info.start_time is not None:
        running = _LIFECYCLE.index(RunStatus.RUNNING.value)
        stopped = status in (RunStatus.CANCELED, RunStatus.CANCEL_REQUESTED)
        return running if stopped else running + 1
    if runtime.job is not None or runtime.workdir is not None or runtime.node_id is not None:
        return _LIFECYCLE.index(RunStatus.STARTING.value)
    if prepared:
        return waited
    if runtime.agent_pid is not None:
        return _LIFECYCLE.index(RunStatus.PREPARING.value)
    return 0


def _phase_line(phase: str, info: RunInfo) -> str | None:
    """The line after ``[phase]``, or None for a phase this run does not show."""
    local = info.target == LOCAL
    if phase == RunStatus.QUEUED.value:
        return (
            "Queued: waiting for a free local slot" if local else "Queued: waiting to be prepared"
        )
    if phase == NODE_WAIT:
        return None if local else f"Queued: waiting for a node of cluster {info.target}"
    if phase == SCALING:
        return info.runtime.scaling
    return _PHASE_LINES[phase]


class _Phases:
    """Prints each phase once, in lifecycle order, including those passed between polls."""

    def __init__(self, out: TextIO, build: _LogTail, driver: _LogTail) -> None:
        self.out, self.build, self.driver = out, build, driver
        self.next = 0  # first phase of _LIFECYCLE not printed yet
        self.cancel_shown = False
        self.preparing = False

    def show(self, info: RunInfo) -> None:
        reached = _reached(info)
        while self.next <= reached and self.next < len(_LIFECYCLE):
            phase = _LIFECYCLE[self.next]
            self.next += 1
            line = _phase_line(phase, info)
            if line is not None:
                self._enter(phase, line)
        if info.status is RunStatus.CANCEL_REQUESTED and not self.cancel_shown:
            self.cancel_shown = True
            self._write(f"[{info.status.value}] {_PHASE_LINES[info.status.value]}\n")
        if info.status.is_terminal():
            self._stream_build()
            self._stream_driver()
        self.out.flush()

    def _write(self, text: str) -> None:
        """Our own lines (phases, headers) start on a line of their own."""
        self.build.end_line()
        self.driver.end_line()
        self.out.write(text)

    def _enter(self, phase: str, line: str) -> None:
        if phase in _AFTER_BUILD and not self.driver.started:
            self._end_build()
        if phase == RunStatus.FINALIZING.value and self.driver.started:
            self.driver.pump(final=True)  # the script has exited: its output comes first
        label = RunStatus.QUEUED.value if phase == NODE_WAIT else phase
        self._write(f"[{label}] {line}\n")
        if phase == RunStatus.PREPARING.value:
            self.preparing = True
            self._stream_build()
        elif phase in (RunStatus.RUNNING.value, RunStatus.FINALIZING.value):
            self._stream_driver()

    def _end_build(self) -> None:
        """Preparing is over (its log is closed): the build log's last lines come first."""
        if self.preparing:
            self._stream_build()
        if self.build.started:
            self.build.pump(final=True)

    def _stream_build(self) -> None:
        if not self.build.started and self.build.exists():
            self._write(f"\nStreaming {BUILD_LOG}\n{_SEPARATOR}\n\n")
            self.build.started = True

    def _stream_driver(self) -> None:
        if not self.driver.started:
            self.build.pump(final=True)
            self._write(f"\nStreaming {DRIVER_LOG}\n{_SEPARATOR}\n\n")
            self.driver.started = True

    def pump(self, final: bool) -> None:
        if self.preparing and not self.driver.started:
            self._stream_build()  # the build log appears once the build starts
        if self.build.started and not self.driver.started:
            self.build.pump(final=final)
        if self.driver.started:
            self.driver.pump(final=final)


class _SweepOutput:
    """A sweep has no phases or driver log of its own: its log, ``hyperdrive.txt``, says
    which children started and ended, each policy decision and the best run so far."""

    def __init__(self, out: TextIO, log: _LogTail) -> None:
        self.out, self.log = out, log

    def show(self, info: RunInfo) -> None:
        if not self.log.started:
            self.out.write(f"\nStreaming {SWEEP_LOG}\n{_SEPARATOR}\n\n")
            self.log.started = True

    def pump(self, final: bool) -> None:
        self.log.pump(final=final)


def _summary(info: RunInfo, out: TextIO) -> None:
    out.write(f"\nExecution Summary\n{_SEPARATOR}\nRunId: {info.run_id}\n")
    out.write(f"Status: {info.status.value}\n")
    if info.error:
        out.write(f"Error: {info.error.message}\n")
    out.write("\n")
    out.flush()


def wait_for_run(
    services: Services,
    run_id: str,
    *,
    show_output: bool,
    out: TextIO,
    poll_interval: float = 0.2,
) -> RunInfo:
    """Waits until the run is Completed, Failed or Canceled and returns its RunInfo.

    If the run is not finished and no agent is alive, starts one (which reconciles runs a
    dead agent left behind). With ``show_output`` prints the header, each phase, the
    driver log as it grows, and an execution summary.

    Raises:
        ExperimentExecutionException: Ctrl-C while streaming (``show_output``), as v1; the
            run keeps going.
    """
    if not show_output:
        return _wait(services, run_id, show_output=False, out=out, poll_interval=poll_interval)
    try:
        return _wait(services, run_id, show_output=True, out=out, poll_interval=poll_interval)
    except KeyboardInterrupt:
        out.write("\n")
        out.flush()
        raise ExperimentExecutionException(
            f"The output streaming for run {run_id!r} was interrupted, but the run is still "
            "executing. Follow it again with run.wait_for_completion(show_output=True) or "
            f"`runyard runs logs --follow {run_id}`; stop it with run.cancel() or "
            f"`runyard runs cancel {run_id}`."
        ) from None


class _EndWatch:
    """Between two reads of the store, looks at a sweep's log (its size, then what was
    added): the sweep loop writes its SWEEP_ENDED line just before the final status, so
    the wait reads the store again within _WATCH_EVERY instead of up to poll_interval."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offset = _size(path) if path is not None else 0
        self.fast_until = 0.0

    def sleep(self, seconds: float) -> None:
        now = time.monotonic()
        if self.path is None or now < self.fast_until:
            time.sleep(seconds if self.path is None else _WATCH_EVERY)
            return
        deadline = now + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(_WATCH_EVERY, left))
            if self._ended():
                self.fast_until = time.monotonic() + _FAST_FOR
                return

    def _ended(self) -> bool:
        assert self.path is not None
        size = _size(self.path)
        if size <= self.offset:
            return False
        marker = SWEEP_ENDED.encode()
        start = max(0, self.offset - len(marker))  # a marker cut by the last look
        with open(self.path, "rb") as f:
            f.seek(start)
            added = f.read(size - start)
        self.offset = size
        return marker in added


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _wait(
    services: Services, run_id: str, *, show_output: bool, out: TextIO, poll_interval: float
) -> RunInfo:
    store = services.store
    info = store.get_run(run_id)
    phases: _Phases | _SweepOutput
    if info.run_type == SWEEP_RUN_TYPE:
        sweep_log = _LogTail(services.artifacts.local_path(f"runs/{run_id}/{SWEEP_LOG}"), out)
        phases = _SweepOutput(out, sweep_log)
    else:
        driver = _LogTail(services.artifacts.local_path(f"runs/{run_id}/{DRIVER_LOG}"), out)
        build = _LogTail(services.artifacts.local_path(f"runs/{run_id}/{BUILD_LOG}"), out)
        phases = _Phases(out, build, driver)
    if show_output:
        _header(info, services, out)
    log_path = services.artifacts.local_path(f"runs/{run_id}/{SWEEP_LOG}")
    watch = _EndWatch(log_path if info.run_type == SWEEP_RUN_TYPE else None)
    next_check = 0.0
    while True:
        if show_output:
            phases.show(info)
            phases.pump(final=info.status.is_terminal())
        if info.status.is_terminal():
            break
        now = time.monotonic()
        if now >= next_check and info.agent_managed:
            if agent_pid(services.layout) is None:
                ensure_agent(services.layout, services.settings)
            next_check = now + _AGENT_CHECK_EVERY
        watch.sleep(poll_interval)
        info = store.get_run(run_id)
    if show_output:
        _summary(info, out)
    return info
