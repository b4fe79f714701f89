"""Fixtures for the run runtime: a real workspace, a real agent (stopped at teardown)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runyard._entities import RunInfo, RunStatus


@pytest.fixture
def services(ws, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The workspace's Services; whatever agent the test started is stopped afterwards."""
    from runyard._services.agent import stop_agent

    monkeypatch.setenv("RUNYARD_AGENT_IDLE_SECONDS", "120")
    services = ws._services
    yield services
    stop_agent(services.layout, timeout=30)


@pytest.fixture
def source(tmp_path: Path) -> Callable[..., Path]:
    """Writes files into a fresh source directory: source(**{"train.py": "print(1)"})."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes] | None = None, **named: str) -> Path:
        root = tmp_path / f"src{next(counter)}"
        root.mkdir()
        for rel, content in {**(files or {}), **named}.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return root

    return make


def submit(services, src: Path, script: str = "train.py", arguments=(), **kw) -> RunInfo:
    from runyard._services.jobs import submit_script_run

    return submit_script_run(
        services,
        experiment_name=kw.pop("experiment_name", "exp"),
        source_directory=src,
        script=script,
        arguments=list(arguments),
        **kw,
    )


def wait(services, run_id: str, *, out=None) -> RunInfo:
    import io

    from runyard._services.follow import wait_for_run

    return wait_for_run(
        services, run_id, show_output=out is not None, out=out or io.StringIO(), poll_interval=0.05
    )


def driver_log(services, run_id: str) -> str:
    return services.artifacts.read_bytes(f"runs/{run_id}/azureml-logs/70_driver_log.txt").decode()


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def wait_for_marker(services, run_id: str, marker: str, timeout: float = 30.0) -> None:
    def seen() -> bool:
        path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/70_driver_log.txt")
        return path is not None and path.exists() and marker in path.read_text()

    wait_until(seen, timeout, f"{marker!r} in the driver log of {run_id}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the dead agent may linger as a zombie until init reaps it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


ACTIVE = {
    RunStatus.PREPARING,
    RunStatus.STARTING,
    RunStatus.RUNNING,
    RunStatus.FINALIZING,
    RunStatus.CANCEL_REQUESTED,
}
