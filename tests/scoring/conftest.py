"""Scoring workers as the host starts them: real processes on a socket the test binds and
passes down, a ready pipe, real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
# The interpreter workers run on: this one, or a model environment's (for instance one with
# httptools and uvloop, which the worker then uses).
PYTHON = os.environ.get("RUNYARD_TEST_SCORING_PYTHON") or sys.executable
# Variables of the test's own environment that a worker must not see.
_DROP = ("RUNYARD_SERVICE_", "AZUREML_", "AML_APP_ROOT")


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@dataclass
class Worker:
    proc: subprocess.Popen
    port: int
    ready_fd: int
    log_dir: Path
    said: bytes | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> bytes:
        """What the worker wrote to its ready pipe, once it closed it."""
        if self.said is not None:
            return self.said
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self.ready_fd], [], [], max(left, 0))
            if not readable:
                raise AssertionError(f"no word on the ready pipe in {timeout} s:\n{self.stderr()}")
            chunk = os.read(self.ready_fd, 64)
            if not chunk:
                break
            data += chunk
        os.close(self.ready_fd)
        self.said = data
        return data

    def client(self, **kwargs) -> httpx.Client:
        client = httpx.Client(base_url=self.base, trust_env=False, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def stdout(self) -> str:
        return (self.log_dir / "stdout").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.log_dir / "stderr").read_text(errors="replace")

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.said is None:
            os.close(self.ready_fd)


@dataclass
class Scripts:
    folder: Path
    count: int = 0

    def write(self, source: str, name: str = "score.py") -> Path:
        self.count += 1
        folder = self.folder / f"app{self.count}"
        folder.mkdir()
        path = folder / name
        path.write_text(textwrap.dedent(source))
        return path


@pytest.fixture
def scripts(tmp_path: Path) -> Scripts:
    """scripts.write(source) -> the path of a new score.py in a folder of its own."""
    return Scripts(tmp_path)


def worker_env(script: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the host gives a worker; a PYTHONPATH in ``extra`` goes first."""
    extra = dict(extra or {})
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    paths = [extra.pop("PYTHONPATH", ""), str(REPO), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.update(
        AZUREML_ENTRY_SCRIPT=str(script),
        AZUREML_SOURCE_DIRECTORY=str(script.parent),
        AZUREML_MODEL_DIR=str(script.parent / "models"),
        AML_APP_ROOT=str(script.parent),
        RUNYARD_SERVICE_NAME="test-service",
    )
    env.update(extra)
    return env


class Workers:
    """Starts workers whose logs go under ``folder``; ``close`` stops them all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Worker] = []
        self.sockets: list[socket.socket] = []

    def start(
        self,
        script: Path,
        env: Mapping[str, str] | None = None,
        *,
        accept_while_starting: bool = False,
        sock: socket.socket | None = None,
        wait: bool = True,
        args: tuple[str, ...] = (),
    ) -> Worker:
        """A running worker on ``sock`` (a new listening socket by default); with ``wait``,
        once it has said ready (or failed)."""
        if sock is None:
            sock = listening_socket()
            self.sockets.append(sock)
        log_dir = self.folder / f"worker{len(self.started)}"
        log_dir.mkdir(parents=True)
        read_fd, write_fd = os.pipe()
        argv = [PYTHON, "-m", "runyard.scoring.worker"]
        argv += ["--fd", str(sock.fileno()), "--ready-fd", str(write_fd), *args]
        if accept_while_starting:
            argv.append("--accept-while-starting")
        with open(log_dir / "stdout", "wb") as out, open(log_dir / "stderr", "wb") as err:
            proc = subprocess.Popen(
                argv,
                cwd=script.parent,
                env=worker_env(script, env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(sock.fileno(), write_fd),
            )
        os.close(write_fd)
        worker = Worker(proc, sock.getsockname()[1], read_fd, log_dir)
        self.started.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def close(self) -> None:
        for worker in self.started:
            worker.stop()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """start_worker(script, env=None, accept_while_starting=False, sock=None, wait=True,
    args=()): see Workers.start; every worker is stopped after the test."""
    workers = Workers(tmp_path / "workers")
    yield workers.start
    workers.close()


@pytest.fixture(scope="module")
def module_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scripts, Workers]]:
    """(scripts, workers) shared by the tests of one module, for a worker they all use."""
    folder = tmp_path_factory.mktemp("module")
    workers = Workers(folder / "workers")
    yield Scripts(folder), workers
    workers.close()


@pytest.fixture
def scoring_env() -> Callable[..., dict[str, str]]:
    """scoring_env(script, extra=None): the environment the host gives a worker."""
    return worker_env


@pytest.fixture(scope="session")
def scoring_python() -> str:
    """The interpreter the workers run on (RUNYARD_TEST_SCORING_PYTHON, or this one)."""
    return PYTHON
