"""The curated Chainer environment really builds and trains on this machine's Python.

The built environment is kept under .pytest_cache/runyard-envs, so only the first run on
a machine pays for the build (the issue's end-to-end test needs the same environment).
"""

from __future__ import annotations

import subprocess

from runyard._envs import BuildSettings, ensure_env, resolve_spec
from runyard.core.environment import curated_environment

SCRIPT = """
import chainer, numpy as np
import chainer.functions as F
import chainer.links as L
print(chainer.__version__, np.__version__)
model = L.Classifier(chainer.Sequential(L.Linear(4, 8), F.relu, L.Linear(8, 3)))
optimizer = chainer.optimizers.SGD(lr=0.1)
optimizer.setup(model)
x = np.random.RandomState(0).rand(16, 4).astype(np.float32)
t = (x.sum(axis=1) > 2).astype(np.int32)
losses = []
for _ in range(20):
    loss = model(x, t)
    model.cleargrads()
    loss.backward()
    optimizer.update()
    losses.append(float(loss.array))
print(losses[0], losses[-1], np.int is int)
"""


def test_chainer_env_builds_and_trains_with_users_unpinned_numpy(
    persistent_build_settings: BuildSettings, new_log
):
    env, notice = curated_environment("Chainer", "7.8.1", use_gpu=True, gpu_present=False)
    assert notice is not None and "uses the CPU" in notice
    for package in ["azureml-defaults", "numpy", "pytest"]:  # the tutorial's pip_packages
        env.python.conda_dependencies.add_pip_package(package)
    resolved = resolve_spec(env._serialize_to_dict())
    log = new_log()
    built = ensure_env(resolved.spec, persistent_build_settings, log)
    out = subprocess.run([built.python, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    versions, losses = out.stdout.splitlines()
    chainer_version, numpy_version = versions.split()
    assert chainer_version == "7.8.1"
    assert tuple(int(p) for p in numpy_version.split(".")[:2]) < (1, 24)
    first, last, np_int_is_int = losses.split()
    assert float(last) < float(first)
    assert np_int_is_int == "True"
    pytest_ok = subprocess.run([built.python, "-m", "pytest", "--version"], capture_output=True)
    assert pytest_ok.returncode == 0


# The Chainer notebook's own environment (train-hyperparameter-tune-deploy-with-chainer's
# conda_dependencies.yml): chainer unpinned, and a CUDA 11.1 cupy.
NOTEBOOK_CONDA = """
channels:
- conda-forge
dependencies:
- python=3.8.12
- pip=22.3.1
- pip:
  - azureml-defaults
  - azureml-opendatasets
  - chainer
  - cupy-cuda111
  - pytest
"""


def test_a_users_environment_naming_chainer_builds_and_leaves_cuda_cupy_out_without_a_gpu(
    persistent_build_settings: BuildSettings, new_log, tmp_path
):
    from runyard.core.environment import Environment

    spec_file = tmp_path / "conda_dependencies.yml"
    spec_file.write_text(NOTEBOOK_CONDA)
    env = Environment.from_conda_specification(name="chainer-gpu", file_path=str(spec_file))
    resolved = resolve_spec(env._serialize_to_dict(), gpu_present=lambda: False)
    notes = "\n".join(resolved.notes)
    assert "WARNING: cupy-cuda111: this node has no GPU, so it is left out" in notes
    assert "chainer builds from its sdist" in notes
    assert "cupy-cuda111" not in resolved.spec.requirements
    with_gpu = resolve_spec(env._serialize_to_dict(), gpu_present=lambda: True)
    assert "cupy-cuda111" in with_gpu.spec.requirements
    built = ensure_env(resolved.spec, persistent_build_settings, new_log())
    out = subprocess.run([built.python, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0].startswith("7.")  # the newest chainer, built from its sdist
