"""Factories for the run runtime tests (the workspace, its Services and source folders come
from tests/conftest.py): submit a script, wait for a run, watch its driver log and pids."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from runyard._entities import RunInfo


def _submit(services, src: Path, script: str = "train.py", arguments=(), **kw) -> RunInfo:
    from runyard._services.jobs import submit_script_run

    return submit_script_run(
        services,
        experiment_name=kw.pop("experiment_name", "exp"),
        source_directory=src,
        script=script,
        arguments=list(arguments),
        **kw,
    )


@pytest.fixture
def submit() -> Callable[..., RunInfo]:
    """submit(services, src, script="train.py", arguments=(), **kw): submit_script_run."""
    return _submit


def _wait(services, run_id: str, *, out=None) -> RunInfo:
    from runyard._services.follow import wait_for_run

    return wait_for_run(
        services, run_id, show_output=out is not None, out=out or io.StringIO(), poll_interval=0.05
    )


@pytest.fixture
def wait() -> Callable[..., RunInfo]:
    """wait(services, run_id, out=None): the run's terminal RunInfo; prints to out if given."""
    return _wait


@pytest.fixture
def wait_for_marker(wait_until) -> Callable[..., None]:
    """wait_for_marker(services, run_id, marker, timeout=30.0): until the run's driver log
    holds marker."""

    def wait_for(services, run_id: str, marker: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/70_driver_log.txt")
            return path is not None and path.exists() and marker in path.read_text()

        wait_until(seen, timeout, f"{marker!r} in the driver log of {run_id}")

    return wait_for


def _pid_alive(pid: int) -> bool:
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


@pytest.fixture
def pid_alive() -> Callable[[int], bool]:
    """pid_alive(pid): the process exists and is not a zombie."""
    return _pid_alive
