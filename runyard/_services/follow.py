"""Following a run until it ends: phases and the driver log, streamed live.

The driver log is read by byte offset, so each byte is printed exactly once: no gap, no
duplicate. A partial last line is held back until its newline arrives (or the run ends).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from runyard._entities import RunInfo, RunStatus
from runyard._services import Services
from runyard._services.agent import agent_pid, ensure_agent
from runyard._services.supervisor import DRIVER_LOG

_AGENT_CHECK_EVERY = 2.0  # seconds between liveness checks of the agent while waiting
_PHASE_LINES = {
    RunStatus.QUEUED: "Queued: waiting for a free slot on the local target",
    RunStatus.PREPARING: "Preparing: setting up the run",
    RunStatus.STARTING: "Starting: copying the snapshot into the working directory",
    RunStatus.RUNNING: "Running",
    RunStatus.CANCEL_REQUESTED: "CancelRequested: stopping the script",
    RunStatus.FINALIZING: "Finalizing: uploading logs and outputs",
}
_SEPARATOR = "=" * 80


class _LogTail:
    """Prints new complete lines of one file, by byte offset."""

    def __init__(self, path: Path | None, out: TextIO) -> None:
        self.path, self.out = path, out
        self.offset = 0
        self.pending = b""
        self.started = False

    def pump(self, *, final: bool = False) -> None:
        if self.path is None:
            return
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        data = self.pending + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        self.pending = data[cut:]
        if cut:
            self.out.write(data[:cut].decode("utf-8", errors="replace"))
            if final and not data.endswith(b"\n"):
                self.out.write("\n")
            self.out.flush()


def _header(info: RunInfo, services: Services, out: TextIO) -> None:
    where = services.layout.artifacts_dir / "runs" / info.run_id
    out.write(f"RunId: {info.run_id}\nWeb View: file://{where}\n\n")
    out.flush()


def _phase(status: RunStatus, tail: _LogTail, out: TextIO) -> None:
    line = _PHASE_LINES.get(status)
    if line is None:
        return
    out.write(f"[{status.value}] {line}\n")
    if status in (RunStatus.RUNNING, RunStatus.FINALIZING):
        _start_stream(tail, out)
    out.flush()


def _start_stream(tail: _LogTail, out: TextIO) -> None:
    if not tail.started:
        out.write(f"\nStreaming {DRIVER_LOG}\n{_SEPARATOR}\n\n")
        tail.started = True


def _summary(info: RunInfo, out: TextIO) -> None:
    out.write(f"\nExecution Summary\n{_SEPARATOR}\nRunId: {info.run_id}\n")
    out.write(f"Status: {info.status.value}\n")
    if info.error:
        out.write(f"Error: {info.error.get('message', '')}\n")
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
    driver log as it grows, and an execution summary."""
    store = services.store
    info = store.get_run(run_id)
    tail = _LogTail(services.artifacts.local_path(f"runs/{run_id}/{DRIVER_LOG}"), out)
    if show_output:
        _header(info, services, out)
    shown: RunStatus | None = None
    next_check = 0.0
    while True:
        if show_output and info.status is not shown:
            _phase(info.status, tail, out)
            if info.status.is_terminal():
                _start_stream(tail, out)  # it ended before we saw it run: print it all
            shown = info.status
        if show_output and tail.started:
            tail.pump(final=info.status.is_terminal())
        if info.status.is_terminal():
            break
        now = time.monotonic()
        if now >= next_check and "snapshot_id" in info.definition:
            if agent_pid(services.layout) is None:
                ensure_agent(services.layout, services.settings)
            next_check = now + _AGENT_CHECK_EVERY
        time.sleep(poll_interval)
        info = store.get_run(run_id)
    if show_output:
        _summary(info, out)
    return info
