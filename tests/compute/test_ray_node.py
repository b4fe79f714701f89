"""The Ray node actor's class as a plain object (Ray runs the same code in an actor): a job
sent to a node that is not the agent's machine starts with a warning in its driver log that
names what it cannot reach there; on the agent's machine it starts without one."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from runyard import _jobenv
from runyard._compute.base import JobSpec
from runyard._compute.ray_backend import portable_job
from runyard._compute.ray_node import DRIVER_LOG, NODE_DIR_VARIABLE, RayNode


def _job(tmp_path: Path, workspace: Path) -> JobSpec:
    job_dir = tmp_path / "agent-side" / "job"
    (job_dir / "wd").mkdir(parents=True)
    (job_dir / "wd" / "train.py").write_text("print('trained', flush=True)\n")
    env = {**os.environ, _jobenv.RUN_ID: "run-1", _jobenv.WORKSPACE_DIR: str(workspace)}
    return JobSpec(
        run_id="run-1",
        argv=(sys.executable, "train.py"),
        cwd=job_dir / "wd",
        env=env,
        driver_log=job_dir / "driver.log",
        status_file=job_dir / "exit_status.json",
    )


def _run_on_node(job: JobSpec, name: str) -> str:
    node = RayNode(name)
    node.start(*portable_job(job))
    deadline = time.monotonic() + 60
    while node.wait(0.5)["code"] is None:
        assert time.monotonic() < deadline, "the job did not end"
    assert node.wait(0)["code"] == 0
    log = (node.dir / DRIVER_LOG).read_text()
    node.release()
    return log


@pytest.fixture
def node_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(NODE_DIR_VARIABLE, str(tmp_path / "node"))
    return tmp_path / "node"


def test_a_node_without_the_workspace_warns_what_needs_the_agents_machine(
    tmp_path: Path, node_dir: Path
) -> None:
    log = _run_on_node(_job(tmp_path, tmp_path / "elsewhere" / "ws"), "run-1-0")
    assert "trained" in log
    assert "WARNING: this Ray node" in log and "is not the agent's machine" in log
    assert "datastore or dataset files" in log and str(tmp_path / "elsewhere" / "ws") in log


def test_a_node_on_the_agents_machine_starts_without_a_warning(
    tmp_path: Path, node_dir: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    log = _run_on_node(_job(tmp_path, workspace), "run-1-0")
    assert "trained" in log and "WARNING" not in log


def test_a_node_outside_ray_never_starts_ray(tmp_path: Path, node_dir: Path) -> None:
    """Ray's runtime context, asked outside a worker, would start a local cluster and turn
    on token auth for the machine's later clusters (~/.ray/auth_token)."""
    token = Path.home() / ".ray" / "auth_token"
    before = token.exists()
    _run_on_node(_job(tmp_path, tmp_path), "run-1-0")
    ray = sys.modules.get("ray")
    assert ray is None or not ray.is_initialized()
    assert token.exists() == before
