"""One service's host process: owns the listening socket and its scoring workers.

Started detached (a session of its own) as ``python -m runyard._serving.host <folder>``
by the local serving backend, in Runyard's own Python; standard library only. It holds
``host.lock`` while it lives, binds the service's port once and hands the socket down to
``workers`` scoring processes (``python -m runyard.scoring.worker --fd N`` in the model's
environment), which all accept from the same queue. So:

- a worker that dies is started again while the others (or the queue) hold the
  connections; repeated crashes mark the service Unhealthy, with the reason;
- an update (``SIGHUP`` after ``launch.json`` changed) starts the new generation's
  workers beside the old ones; they accept only once their ``init()`` has returned, then
  the old ones are stopped gracefully (they finish what they hold): no request is dropped;
- the state is written to ``status.json`` at every change; the agent, the SDK and the
  CLI read it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import math
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from runyard._serving.base import FAILED, HEALTHY, TRANSITIONING, UNHEALTHY, ServiceLaunch

LAUNCH = "launch.json"
STATUS = "status.json"
LOCK = "host.lock"
PID = "host.pid"  # written once the host takes signals
LOG = "service.log"
AUTH = "auth.json"
START_MARK = "---- runyard: starting generation"

CRASH_WINDOW = 60.0  # seconds: crashes counted over this window
CRASH_LIMIT = 3  # crashes in the window that make the service Unhealthy
BACKOFF_MAX = 30.0  # seconds between restarts at most
DRAIN_SECONDS = 30.0  # a retired worker's time to finish its requests before SIGKILL
BIND_RETRY_SECONDS = 10.0  # an old worker may still hold the port while it drains
INIT_FAILED = 3  # the worker's exit code when init() raised
PR_SET_PDEATHSIG = 1
# Variables of the process that started the host that a scoring worker must not inherit.
DROP_PREFIXES = ("AZUREML_RUN", "RUNYARD_SPOOL", "RUNYARD_CHANNEL")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Written aside, then renamed over: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def host_alive(folder: Path) -> bool:
    """True while a host holds the folder's lock (robust to reused pids)."""
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class Worker:
    def __init__(
        self, proc: subprocess.Popen[bytes], ready_fd: int, generation: int, index: int
    ) -> None:
        self.proc, self.ready_fd, self.generation, self.index = proc, ready_fd, generation, index
        self.state = "starting"  # -> ready | failed; retiring once replaced
        self.retired_at: float | None = None
        self.buffer = b""


class Host:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.launch: ServiceLaunch | None = None  # the generation served (or starting first)
        self.pending: ServiceLaunch | None = None  # a newer generation being started
        self.generation = 0  # served
        self.workers: list[Worker] = []
        self.restart_at: dict[int, float] = {}  # worker index -> when to start it again
        self.crashes: deque[float] = deque()
        self.restarts = 0
        self.error: str | None = None
        self.failed_generation: int | None = None
        self.state = TRANSITIONING
        self.stop = self.reload = False
        self.sock: socket.socket | None = None
        self.port: int | None = None
        self.selector = selectors.DefaultSelector()
        self.log_fd = os.open(folder / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._last_status: dict[str, Any] | None = None

    # ---- logging and status -------------------------------------------------------------
    def note(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        os.write(self.log_fd, f"{stamp} runyard host: {line}\n".encode())

    def write_status(self) -> None:
        status = {
            "state": self.state,
            "port": self.port,
            "generation": self.generation,
            "pending_generation": self.pending.generation if self.pending else None,
            "error": self.error,
            "failed_generation": self.failed_generation,
            "restarts": self.restarts,
            "pids": [os.getpid(), *(w.proc.pid for w in self.workers)],
        }
        if status != self._last_status:
            write_json(self.folder / STATUS, status)
            self._last_status = status

    # ---- the socket -----------------------------------------------------------------------
    def bind(self, launch: ServiceLaunch) -> bool:
        port = launch.port or self.port or 0  # self.port: the port an earlier host served on
        deadline = time.monotonic() + BIND_RETRY_SECONDS
        while True:
            sock = socket.socket(socket.AF_INET6 if ":" in launch.host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((launch.host, int(port)))
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE and time.monotonic() < deadline:
                    time.sleep(0.2)  # an old worker still drains on it
                    continue
                self.fail(
                    launch.generation,
                    f"cannot listen on {launch.host}:{port}: {exc.strerror}. Another program "
                    "holds the port: free it, or deploy again with another port "
                    "(LocalWebservice.deploy_configuration(port=...)).",
                )
                return False
            break
        sock.listen(min(socket.SOMAXCONN, 4096))
        self.sock, self.port = sock, sock.getsockname()[1]
        self.note(f"listening on {launch.host}:{self.port}")
        return True

    # ---- workers ----------------------------------------------------------------------------
    def spawn(self, launch: ServiceLaunch, index: int, accept_while_starting: bool) -> None:
        assert self.sock is not None
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        argv = [launch.python, "-m", "runyard.scoring.worker"]
        argv += ["--fd", str(self.sock.fileno()), "--ready-fd", str(write_fd)]
        if accept_while_starting:
            argv.append("--accept-while-starting")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=launch.source_directory,
                env=self.worker_env(launch),
                stdin=subprocess.DEVNULL,
                stdout=self.log_fd,
                stderr=self.log_fd,
                pass_fds=(self.sock.fileno(), write_fd),
                preexec_fn=self.limits(launch, index),
            )
        except OSError as exc:
            os.close(read_fd)
            self.note(f"cannot start a scoring process with {launch.python}: {exc}")
            raise
        finally:
            os.close(write_fd)
        worker = Worker(proc, read_fd, launch.generation, index)
        self.workers.append(worker)
        self.selector.register(read_fd, selectors.EVENT_READ, worker)

    def worker_env(self, launch: ServiceLaunch) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(DROP_PREFIXES)}
        env.update(launch.env)
        env.update(
            AZUREML_MODEL_DIR=launch.model_dir,
            AML_APP_ROOT=launch.app_root,
            AZUREML_ENTRY_SCRIPT=launch.entry_script,
            AZUREML_SOURCE_DIRECTORY=launch.source_directory,
            RUNYARD_SERVICE_NAME=launch.name,
            RUNYARD_SERVICE_AUTH=str(self.folder / AUTH),
            RUNYARD_SERVICE_MAX_BODY_BYTES=str(launch.max_body_bytes),
            RUNYARD_SERVICE_TIMEOUT_MS=str(launch.timeout_ms),
            PYTHONUNBUFFERED="1",
        )
        if launch.cpu_cores:
            threads = str(max(1, math.ceil(launch.cpu_cores)))
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env.setdefault(name, threads)
        return env

    def limits(self, launch: ServiceLaunch, index: int) -> Any:
        """cpu_cores as the CPUs a worker may use (its share of this machine's), memory_gb
        as its data segment limit (RLIMIT_DATA: heap and anonymous memory); the worker
        also ends with its host."""
        cpus: set[int] | None = None
        if launch.cpu_cores:
            allowed = sorted(os.sched_getaffinity(0))
            count = min(len(allowed), max(1, math.ceil(launch.cpu_cores)))
            start = (index * count) % len(allowed)
            cpus = {allowed[(start + i) % len(allowed)] for i in range(count)}
        memory = int(launch.memory_gb * 1024**3) if launch.memory_gb else None
        prctl = self._libc.prctl

        def apply() -> None:
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
            if cpus:
                os.sched_setaffinity(0, cpus)
            if memory:
                # late: only in the forked child, before exec
                import resource

                resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))

        return apply

    def start_generation(self, launch: ServiceLaunch) -> None:
        serving = any(w.state == "ready" for w in self.workers)
        os.write(
            self.log_fd,
            f"{START_MARK} {launch.generation} ({launch.workers} worker(s)) ----\n".encode(),
        )
        if serving:
            self.pending = launch
        else:
            self.launch = launch
        for index in range(max(1, launch.workers)):
            self.spawn(launch, index, accept_while_starting=not serving)

    def on_ready_pipe(self, worker: Worker) -> None:
        try:
            data = os.read(worker.ready_fd, 64)
        except BlockingIOError:
            return
        worker.buffer += data
        if b"ready" in worker.buffer and worker.state == "starting":
            worker.state = "ready"
        elif b"failed" in worker.buffer and worker.state == "starting":
            worker.state = "failed"
        if not data or worker.state != "starting":
            self.close_pipe(worker)

    def close_pipe(self, worker: Worker) -> None:
        if worker.ready_fd >= 0:
            self.selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = -1

    def reap(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            code = worker.proc.poll()
            if code is None:
                if worker.retired_at is not None and now - worker.retired_at > DRAIN_SECONDS:
                    with contextlib.suppress(ProcessLookupError):
                        worker.proc.kill()
                continue
            if worker.ready_fd >= 0:
                self.on_ready_pipe(worker)
                self.close_pipe(worker)
            self.workers.remove(worker)
            if worker.retired_at is not None or self.stop:
                continue
            self.on_exit(worker, code, now)

    def on_exit(self, worker: Worker, code: int, now: float) -> None:
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self.note(f"scoring process {worker.proc.pid} (generation {worker.generation}) {how}")
        pending = self.pending is not None and worker.generation == self.pending.generation
        init_failed = worker.state in ("starting", "failed") and code == INIT_FAILED
        if init_failed and (pending or self.generation == 0):
            self.fail(
                worker.generation,
                "init() of the scoring script raised; its traceback "
                "is in the service's logs (service.get_logs()).",
            )
            return
        if pending:  # a new worker crashed before its init() returned: the update failed
            self.fail(
                worker.generation,
                f"a scoring process of the new version {how} "
                "while starting; see service.get_logs().",
            )
            return
        self.restarts += 1
        self.crashes.append(now)
        while self.crashes and now - self.crashes[0] > CRASH_WINDOW:
            self.crashes.popleft()
        delay = 0.0 if len(self.crashes) <= 1 else min(BACKOFF_MAX, 2.0 ** (len(self.crashes) - 2))
        if len(self.crashes) >= CRASH_LIMIT:
            self.error = (
                f"the scoring process {how}: {len(self.crashes)} times in the last "
                f"{CRASH_WINDOW:.0f} s; restarting it every {delay:.0f} s. See service.get_logs()."
            )
        self.restart_at[worker.index] = now + delay

    def fail(self, generation: int, reason: str) -> None:
        """Generation ``generation`` cannot serve: its workers are stopped; the service is
        Failed unless an older generation still serves."""
        self.note(f"generation {generation} failed: {reason}")
        for worker in self.workers:
            if worker.generation == generation:
                self.retire(worker, force=True)
        self.error, self.failed_generation = reason, generation
        if self.pending is not None and self.pending.generation == generation:
            self.pending = None
        if not any(w.state == "ready" and w.retired_at is None for w in self.workers):
            self.state = FAILED
            self.stop = True

    def retire(self, worker: Worker, *, force: bool = False) -> None:
        if worker.retired_at is None:
            worker.retired_at = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            worker.proc.send_signal(signal.SIGKILL if force else signal.SIGTERM)

    def restart_due(self) -> None:
        now = time.monotonic()
        for index, when in list(self.restart_at.items()):
            if when <= now and self.launch is not None:
                del self.restart_at[index]
                current = [w for w in self.workers if w.generation == self.generation]
                serving = any(w.state == "ready" for w in current)
                self.note(f"starting scoring process {index} of generation {self.generation} again")
                self.spawn(self.launch, index, accept_while_starting=not serving)

    def evaluate(self) -> None:
        if self.pending is not None:
            new = [w for w in self.workers if w.generation == self.pending.generation]
            if new and all(w.state == "ready" for w in new):
                for worker in self.workers:
                    if worker.generation != self.pending.generation:
                        self.retire(worker)
                self.note(f"generation {self.pending.generation} serves; the old one drains")
                self.launch, self.pending = self.pending, None
                self.generation = self.launch.generation
                self.error = self.failed_generation = None
                self.crashes.clear()
        elif self.launch is not None:
            current = [w for w in self.workers if w.generation == self.launch.generation]
            ready = current and all(w.state == "ready" for w in current)
            if ready and not self.restart_at and self.generation != self.launch.generation:
                self.generation = self.launch.generation
                self.note(f"generation {self.generation} serves")
        if self.state == FAILED:
            return
        now = time.monotonic()
        while self.crashes and now - self.crashes[0] > CRASH_WINDOW:
            self.crashes.popleft()
        if len(self.crashes) >= CRASH_LIMIT:
            self.state = UNHEALTHY
        elif (
            self.generation
            and self.pending is None
            and not self.restart_at
            and all(w.state == "ready" for w in self.workers if w.retired_at is None)
        ):
            self.state = HEALTHY
            if not self.crashes and self.failed_generation is None:
                self.error = None
        else:
            self.state = TRANSITIONING

    def read_launch(self) -> ServiceLaunch | None:
        data = read_json(self.folder / LAUNCH)
        return ServiceLaunch.from_json(data) if data else None

    def on_reload(self) -> None:
        launch = self.read_launch()
        newest = max(self.generation, self.pending.generation if self.pending else 0)
        if launch is None or launch.generation <= newest:
            return
        if self.pending is not None:  # a newer update replaces one still starting
            for worker in self.workers:
                if worker.generation == self.pending.generation:
                    self.retire(worker, force=True)
            self.pending = None
        self.note(f"update to generation {launch.generation}")
        self.start_generation(launch)

    # ---- main loop ------------------------------------------------------------------------
    def serve(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, self._on_signal)
        self.selector.register(wake_r, selectors.EVENT_READ, None)
        # Only now may others signal us (a SIGHUP before the handler would end the host);
        # launch.json is read after, so an update written before this is not missed.
        write_json(self.folder / PID, {"pid": os.getpid()})
        previous = read_json(self.folder / STATUS) or {}
        self.port = previous.get("port")  # kept until this host has bound its own
        self.write_status()  # this host's, Transitioning: an older host's status is gone
        launch = self.read_launch()
        if launch is None:
            self.note(f"no {LAUNCH} in {self.folder}; nothing to serve")
            return 2
        if self.bind(launch):
            self.start_generation(launch)
        while not self.stop:
            self.write_status()
            for key, _ in self.selector.select(timeout=1.0):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 512):
                            pass
                else:
                    self.on_ready_pipe(key.data)
            if self.reload:
                self.reload = False
                self.on_reload()
            self.reap()
            self.restart_due()
            self.evaluate()
        self.shutdown()
        self.write_status()
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            self.reload = True
        elif signum in (signal.SIGTERM, signal.SIGINT):
            self.stop = True

    def shutdown(self) -> None:
        for worker in self.workers:
            self.retire(worker)
        deadline = time.monotonic() + 10.0
        for worker in self.workers:
            try:
                worker.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
        self.workers.clear()
        if self.sock is not None:
            self.sock.close()
        if self.state != FAILED:
            self.state = TRANSITIONING
        self.note("stopped")


def _hold_lock(folder: Path) -> int | None:
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m runyard._serving.host <service folder>", file=sys.stderr)
        return 2
    folder = Path(args[0]).resolve()
    lock = _hold_lock(folder)
    if lock is None:
        return 0  # another host serves this service
    try:
        return Host(folder).serve()
    finally:
        os.close(lock)


if __name__ == "__main__":
    sys.exit(main())
