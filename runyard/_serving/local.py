"""Services as host processes of this machine (``runyard._serving.host``), one per service,
each in a session of its own so it outlives the agent that started it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from runyard import _jobenv
from runyard._config import make_private_dir
from runyard._serving.base import (
    FAILED,
    TRANSITIONING,
    ServiceLaunch,
    ServiceReport,
    ServingBackend,
)
from runyard._serving.host import (
    LAUNCH,
    LOG,
    PID,
    START_MARK,
    STATUS,
    host_alive,
    read_json,
    write_json,
)

STOP_TIMEOUT = 20.0  # seconds a host gets to stop its workers before it is killed
PID_TIMEOUT = 10.0  # seconds a starting host takes to say its pid


class LocalServing(ServingBackend):
    kind = "local"

    def __init__(self, services_dir: Path) -> None:
        self.services_dir = services_dir
        self._started: dict[Path, subprocess.Popen[bytes]] = {}  # hosts started here

    def folder(self, name: str) -> Path:
        return self.services_dir / name

    # ---- the interface ----------------------------------------------------------------------
    def deploy(self, launch: ServiceLaunch) -> None:
        folder = make_private_dir(self.folder(launch.name))
        write_json(folder / LAUNCH, launch.to_json())
        if host_alive(folder):
            pid = self._host_pid(folder)
            if pid is not None:
                os.kill(pid, signal.SIGHUP)  # the host reads launch.json again
                return
            # the host has the lock but not yet its pid: it reads launch.json when it has
        self._start(folder)

    def status(self, name: str) -> ServiceReport:
        folder = self.folder(name)
        data = read_json(folder / STATUS) or {}
        alive = host_alive(folder)
        state = str(data.get("state") or TRANSITIONING)
        if not alive and state != FAILED:
            state = TRANSITIONING  # gone: the agent starts it again
        host = (read_json(folder / PID) or {}).get("pid")
        if alive and (data.get("pids") or [None])[0] != host:
            state = TRANSITIONING  # a new host, which has not written its status yet
        port = data.get("port")
        return ServiceReport(
            state=state,
            port=int(port) if port else None,
            generation=int(data.get("generation") or 0),
            error=data.get("error"),
            failed_generation=data.get("failed_generation"),
            restarts=int(data.get("restarts") or 0),
            pids=tuple(int(p) for p in data.get("pids") or ()) if alive else (),
            alive=alive,
        )

    def logs(self, name: str, num_lines: int = 5000, init: bool = False) -> str:
        path = self.folder(name) / LOG
        try:
            with path.open("rb") as f:
                lines = deque(f, maxlen=None if init else max(0, num_lines))
        except FileNotFoundError:
            return ""
        text = [line.decode("utf-8", "replace") for line in lines]
        if init:
            starts = [i for i, line in enumerate(text) if line.startswith(START_MARK)]
            text = text[starts[-1] :] if starts else text
            text = text[-num_lines:] if num_lines > 0 else []
        return "".join(text)

    def revive(self, name: str) -> bool:
        self._reap()
        folder = self.folder(name)
        launch = read_json(folder / LAUNCH)
        if launch is None or host_alive(folder):
            return False
        status = read_json(folder / STATUS) or {}
        failed = status.get("state") == FAILED
        if failed and status.get("failed_generation") == launch.get("generation"):
            return False  # this version cannot start: an update or redeploy is needed
        self._start(folder)
        return True

    def delete(self, name: str) -> None:
        folder = self.folder(name)
        if host_alive(folder):
            pid = self._host_pid(folder)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while host_alive(folder) and time.monotonic() < deadline:
                time.sleep(0.05)
            if host_alive(folder) and pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        # Workers left by a host killed -9 end with it (PDEATHSIG), draining; wait for them.
        self._kill_workers(folder)
        proc = self._started.pop(folder, None)
        if proc is not None:  # started here: reap it
            proc.wait(STOP_TIMEOUT)

    # ---- helpers ----------------------------------------------------------------------------
    def _start(self, folder: Path) -> None:
        env = dict(os.environ)
        path = _jobenv.package_pythonpath(env)
        if path:
            env["PYTHONPATH"] = path
        with open(folder / LOG, "ab") as log:  # the host's own errors, before it logs
            proc = subprocess.Popen(
                [sys.executable, "-m", "runyard._serving.host", str(folder)],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self._started[folder] = proc

    def _reap(self) -> None:
        self._started = {f: p for f, p in self._started.items() if p.poll() is None}

    def _host_pid(self, folder: Path) -> int | None:
        """The pid of the host holding ``folder``'s lock (checked against its command line:
        a pid in the file may be an old host's, since reused)."""
        deadline = time.monotonic() + PID_TIMEOUT
        marker = f"runyard._serving.host\0{folder}\0"
        while time.monotonic() < deadline:
            pid = (read_json(folder / PID) or {}).get("pid")
            if isinstance(pid, int) and marker in _cmdline(pid):
                return pid
            if not host_alive(folder):
                return None
            time.sleep(0.02)
        return None

    def _kill_workers(self, folder: Path) -> None:
        auth = f"RUNYARD_SERVICE_AUTH={folder / 'auth.json'}".encode()
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            pids = [pid for pid in _all_pids() if auth in _environ(pid)]
            if not pids:
                return
            sig = signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            time.sleep(0.05)


def _all_pids() -> list[int]:
    own = os.getpid()
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) != own]


def _environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""
