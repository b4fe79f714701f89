"""The tutorial's training script, unchanged, through the job-side azureml path, outside a
run (Run.get_context() is then an offline run), in the curated Chainer environment.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import runyard
from runyard import compat
from runyard._envs import default_build_settings, ensure_env, resolve_spec
from runyard.core.environment import curated_environment
from runyard.opendatasets import MNIST

SCRIPT = Path(runyard.__file__).parent / "quickstart" / "chainer" / "chainer_mnist.py"


def _chainer_python(persistent: Path, uv_cache: Path) -> str:
    """The curated Chainer env, in the cache tests/envs keeps (built once per machine)."""
    env, _ = curated_environment("Chainer", "7.8.1", use_gpu=False)
    for package in ["azureml-defaults", "numpy", "pytest"]:
        env.python.conda_dependencies.add_pip_package(package)
    settings = default_build_settings(
        persistent / "home", host_python=sys.executable, uv_cache_dir=uv_cache
    )
    return ensure_env(resolve_spec(env._serialize_to_dict()).spec, settings, lambda _l: None).python


def test_script_reaches_08_accuracy_on_the_sample_and_saves_the_model(
    tmp_path, persistent_envs_dir, uv_cache_dir
):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [compat.job_pythonpath(), str(Path(runyard.__file__).parents[1])]
    )
    python = _chainer_python(persistent_envs_dir, uv_cache_dir)
    out = subprocess.run(
        [python, str(SCRIPT), "--data-folder", str(MNIST.get_local_path()),
         "--epochs", "4", "--batchsize", "100", "--output_dir", str(tmp_path / "outputs")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    accuracies = [float(a) for a in re.findall(r"val_accuracy:([0-9.]+)", out.stdout)]
    assert len(accuracies) == 4
    assert accuracies[-1] >= 0.8
    assert (tmp_path / "outputs" / "model.npz").stat().st_size > 100_000
    assert "Attempted to log scalar metric Accuracy:" in out.stdout  # the offline run
