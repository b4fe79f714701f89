"""The seed tutorial end to end, as `runyard quickstart` runs it, with a few epochs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def test_chainer_tutorial_trains_registers_and_downloads(tutorial, tmp_path: Path) -> None:
    from runyard.core import Model, Workspace

    result, out, home = tutorial

    assert result["status"] == "Completed"
    # The phases, in v1's order, as wait_for_completion(show_output=True) printed them: the
    # environment is prepared before the cluster scales for the run.
    marks = ("[Preparing]", "[Scaling]", "[Running]", "[Finalizing]")
    assert all(out.count(mark) == 1 for mark in marks), out
    assert [out.index(mark) for mark in marks] == sorted(out.index(mark) for mark in marks), out
    assert "[Queued] Queued: waiting for a node of cluster gpu-cluster" in out
    assert "[Finalizing] Post-Processing: uploading ./outputs to the run history" in out
    assert "Streaming azureml-logs/70_driver_log.txt" in out
    assert "MNIST: 4000 training and 1000 test digits" in out
    assert "the run uses the CPU" in out

    metrics = result["metrics"]
    assert len(metrics["Accuracy"]) == 4
    assert metrics["Accuracy"][-1] >= 0.8
    assert metrics["Epochs"] == 4 and metrics["Batch size"] == 128

    assert "outputs/model.npz" in result["files"]
    assert result["model_id"] == "chainer-dnn-mnist:1"
    with np.load(result["model_file"]) as weights:
        assert weights["l1/W"].shape == (100, 784)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(home / "home"))
        ws = Workspace.get("quickstart")
        model = Model(ws, "chainer-dnn-mnist")
        path = Path(model.download(target_dir=str(tmp_path / "dl")))
    assert model.version == 1 and model.run_id == result["run_id"]
    assert path.name == "model.npz" and path.stat().st_size > 0
