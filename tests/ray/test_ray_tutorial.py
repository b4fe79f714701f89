"""The Chainer tutorial, unchanged, on the session's Ray cluster: `runyard quickstart`'s code
(its NC6 cluster, dataset, Chainer estimator, metrics, register_model, download) with
RUNYARD_RAY_ADDRESS set, so that its AmlCompute cluster runs on Ray. Its node builds the
curated Chainer environment in its own cache, from the uv cache the local tutorial filled."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import import_ray, offline_builds

import_ray()
pytestmark = pytest.mark.timeout(900)


def test_the_chainer_tutorial_runs_unchanged_on_ray(
    ray_cluster, tmp_path: Path, uv_cache_dir: Path, persistent_envs_dir: Path
) -> None:
    from runyard._config import WorkspaceLayout
    from runyard._services import close_all
    from runyard._services.agent_client import stop_agent
    from runyard.quickstart.chainer_tutorial import run_tutorial

    home = tmp_path / "home"
    home.mkdir()
    shared = persistent_envs_dir / "home" / "envs"  # the agent's build: the local tutorial's
    shared.mkdir(parents=True, exist_ok=True)
    (home / "envs").symlink_to(shared, target_is_directory=True)
    out = io.StringIO()
    with ray_cluster.inside(), pytest.MonkeyPatch.context() as mp:
        for name, value in offline_builds(uv_cache_dir).items():
            mp.setenv(name, value)
        mp.setenv("RUNYARD_HOME", str(home))
        mp.setenv("RUNYARD_RAY_ADDRESS", ray_cluster.address)
        for name in ("RUNYARD_STORE_URI", "AZUREML_MODEL_DIR", "AZUREML_RUN_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(tmp_path)
        try:
            with contextlib.redirect_stdout(out):
                result = run_tutorial(tmp_path / "project", epochs=2)
        finally:
            sys.stdout.write(out.getvalue())
            for ws_root in sorted((home / "workspaces").glob("*")):
                stop_agent(WorkspaceLayout(ws_root), timeout=30)
            close_all()
    shown = out.getvalue()
    assert result["status"] == "Completed", shown
    assert "runs on Ray node" in shown  # the driver log, streamed by show_output=True
    assert "MNIST: 4000 training and 1000 test digits" in shown  # the dataset reached the node
    assert "the run uses the CPU" in shown  # an NC6 on CPU-only Ray nodes
    metrics = result["metrics"]
    assert len(metrics["Accuracy"]) == 2 and metrics["Epochs"] == 2
    assert result["model_id"] == "chainer-dnn-mnist:1"
    with np.load(result["model_file"]) as weights:
        assert weights["l1/W"].shape == (100, 784)
