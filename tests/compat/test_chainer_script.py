"""The tutorial's training script, unchanged, through the job-side azureml path.

Needs a Python with chainer 7.8.1 (numpy<1.24): set RUNYARD_CHAINER_PYTHON to it.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

import runyard
from runyard import compat
from runyard.opendatasets import MNIST

SCRIPT = Path(runyard.__file__).parent / "quickstart" / "chainer" / "chainer_mnist.py"
CHAINER_PYTHON = os.environ.get("RUNYARD_CHAINER_PYTHON")


@pytest.mark.skipif(not CHAINER_PYTHON, reason="set RUNYARD_CHAINER_PYTHON to a chainer venv")
def test_script_reaches_08_accuracy_on_the_sample_and_saves_the_model(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [compat.job_pythonpath(), str(Path(runyard.__file__).parents[1])]
    )
    out = subprocess.run(
        [CHAINER_PYTHON, str(SCRIPT), "--data-folder", str(MNIST.get_local_path()),
         "--epochs", "4", "--batchsize", "100", "--output_dir", str(tmp_path / "outputs")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    accuracies = [float(a) for a in re.findall(r"val_accuracy:([0-9.]+)", out.stdout)]
    assert len(accuracies) == 4
    assert accuracies[-1] >= 0.8
    assert (tmp_path / "outputs" / "model.npz").stat().st_size > 100_000
