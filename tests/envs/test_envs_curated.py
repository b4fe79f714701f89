"""Curated environments under the names v1's notebooks and docs use: listed and found
through the SDK, resolvable on this machine, and built for real (kept between test runs
under .pytest_cache, so only a machine's first run pays)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runyard._envs import BuildSettings, ensure_env, resolve_spec
from runyard._envs import curated_table as table
from runyard._envs.curated import curated_names, get_curated
from runyard._envs.resolution import uv_pip_options
from runyard._envs.spec import EnvSpec
from runyard._envs.uv_run import compile_runner
from runyard.core.environment import Environment
from runyard.exceptions import EnvironmentNotFound

# What the v1 sample notebooks ask Environment.get for (git grep of their history).
NOTEBOOK_NAMES = (
    "AzureML-Minimal",
    "AzureML-Tutorial",
    "AzureML-sklearn-1.5",
    "azureml-sklearn-1.5",
    "azureml-sklearn-1.0",
    "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu",
    "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu",
    "AzureML-sklearn-0.24.1-ubuntu18.04-py37-cpu-inference",
    "AzureML-Scikit-learn-0.20.3",
    "AzureML-Scikit-learn0.24-Cuda11-OpenMpi4.1.0-py36",
    "AzureML-PyTorch-1.4-GPU",
    "AzureML-PyTorch-1.6-CPU",
    "AzureML-PyTorch-1.6-GPU",
    "azureml-acpt-pytorch-1.11-cuda11.3",
    "AzureML-acpt-pytorch-1.13-cuda11.7",
    "azureml-acpt-pytorch-2.2-cuda12.1",
    "AzureML-TensorFlow-1.13-GPU",
    "AzureML-TensorFlow-2.0-GPU",
    "AzureML-TensorFlow-2.1-GPU",
    "AzureML-TensorFlow-2.3-GPU",
    "AzureML-tensorflow-2.6-ubuntu20.04-py38-cuda11-gpu",
    "AzureML-tensorflow-2.7-ubuntu20.04-py38-cuda11-gpu",
    "azureml-tensorflow-2.11-cuda11",
    "AzureML-tensorflow-2.12-cuda11",
    "AzureML-tensorflow-2.16-cuda12",
    "AzureML-Chainer-5.1.0-GPU",
    "AzureML-Chainer-7.0.0-CPU",
)


def test_environment_list_shows_the_names_v1_users_know(ws):
    listed = Environment.list(ws)
    lowered = {name.lower() for name in listed}
    assert set(curated_names()) <= set(listed)
    assert [n for n in NOTEBOOK_NAMES if n.lower() not in lowered] == []
    sklearn = listed["AzureML-sklearn-1.5"]
    assert "scikit-learn==1.5.2" in sklearn.python.conda_dependencies.pip_packages
    # using-environments.ipynb prints every curated environment's conda file.
    for name, env in listed.items():
        if name.startswith("AzureML"):
            assert "dependencies:" in env.python.conda_dependencies.serialize_to_string()


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_environment_get_finds_every_notebook_name(ws, name):
    env = Environment.get(ws, name)
    assert env.name.lower() == name.lower() and env.version == "1"
    assert env.python.conda_dependencies.pip_packages


def test_other_os_and_python_tags_of_a_listed_version_are_served_too():
    data = get_curated("AzureML-pytorch-1.8-ubuntu20.04-py38-cuda11-gpu")
    assert data is not None and data["name"] == "AzureML-pytorch-1.8-ubuntu20.04-py38-cuda11-gpu"
    assert "torch==2.13.0" in data["python"]["condaDependencies"]["dependencies"][1]["pip"]


@pytest.mark.parametrize("name", ["AzureML-PyTorch-9.9-GPU", "AzureML-sklearn-7.0", "AzureML-X"])
def test_a_version_v1_never_had_is_not_found(ws, name):
    with pytest.raises(EnvironmentNotFound) as info:
        Environment.get(ws, name)
    assert f"No environment named {name!r} in this workspace" in str(info.value)
    assert "Environment.list(workspace)" in str(info.value)


def _notes(name: str, gpu: bool = True) -> list[str]:
    data = get_curated(name)
    assert data is not None
    notes = resolve_spec(data, gpu_present=lambda: gpu).notes
    return [n for n in notes if n.startswith("WARNING")]


def test_old_chainer_names_are_served_by_7_8_1_with_a_warning():
    (note,) = _notes("AzureML-Chainer-5.1.0-GPU")
    assert note == (
        "WARNING: curated environment AzureML-Chainer-5.1.0-GPU had Chainer 5.1.0 on Python "
        "3.6 in v1; Runyard serves it with Chainer 7.8.1 on Python 3.11 (the build of "
        "AzureML-Chainer-7.8.1-GPU): v1's releases do not install on Python 3.11; 7.8.1, the "
        "last release, keeps their API."
    )
    old = resolve_spec(get_curated("AzureML-Chainer-7.0.0-CPU") or {}).spec
    new = resolve_spec(get_curated("AzureML-Chainer-7.8.1-CPU") or {}).spec
    assert old.hash == new.hash  # one build serves both names
    assert _notes("AzureML-Chainer-7.8.1-CPU") == []
    # Without a GPU the CUDA cupy of the GPU name is left out, and the run uses the CPU.
    assert _notes("AzureML-Chainer-7.8.1-GPU", gpu=False) == [
        "WARNING: cupy-cuda12x: this node has no GPU, so it is left out and the run uses the CPU."
    ]


def test_cuda_names_say_the_run_uses_the_cpu():
    notes = _notes("azureml-acpt-pytorch-2.2-cuda12.1")
    assert notes[0].startswith(
        "WARNING: curated environment azureml-acpt-pytorch-2.2-cuda12.1 had PyTorch 2.2 in v1; "
        "Runyard serves it with PyTorch 2.13.0 (its CPU build) on Python 3.11"
    )
    assert notes[1] == (
        "WARNING: curated environment azureml-acpt-pytorch-2.2-cuda12.1 is a CUDA environment; "
        "Runyard builds it with PyTorch 2.13.0 (its CPU build), so the run uses the CPU."
    )
    assert "torchvision is not installed" in notes[2]
    assert _notes("AzureML-sklearn-1.5") == [] and _notes("AzureML-Minimal") == []


STACKS = {
    "tutorial": ("AzureML-Tutorial", table.TUTORIAL),
    "sklearn-1.1": ("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", table.SKLEARN_1_1),
    "sklearn-1.5": ("AzureML-sklearn-1.5", table.SKLEARN_1_5),
    "pytorch": ("AzureML-PyTorch-1.6-GPU", table.TORCH),
    "tensorflow": ("AzureML-TensorFlow-2.3-CPU", table.TENSORFLOW),
}
needs_311 = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the curated pins are measured on Python 3.11"
)


def _cpu_torch_wheel(settings: BuildSettings) -> bool:
    return any(
        wheel.name.startswith("torch-2.13.0+cpu-")
        for link in settings.pip.find_links
        for wheel in Path(link).glob("*.whl")
    )


def _spec(name: str) -> EnvSpec:
    data = get_curated(name)
    assert data is not None
    return resolve_spec(data).spec


@needs_311
@pytest.mark.parametrize("stack", list(STACKS))
def test_every_curated_stack_resolves_here(stack, persistent_build_settings: BuildSettings):
    """uv pip compile with the machine's pip configuration: index pages only."""
    name, expected = STACKS[stack]
    spec = _spec(name)
    settings = persistent_build_settings
    settings.envs_root.mkdir(parents=True, exist_ok=True)
    code, out = compile_runner(settings)(
        ["--python", settings.host_python, *uv_pip_options(spec, settings)],
        "\n".join(spec.requirements) + "\n",
    )
    assert code == 0, out
    pins = {line.split("==")[0]: line.split("==")[1] for line in out.split() if "==" in line}
    for requirement in expected.pip:
        if "==" in requirement:
            package, version = requirement.split("==")
            assert pins[package].split("+")[0] == version
    if stack == "pytorch":
        assert pins["torch"] == "2.13.0+cpu"  # the local CPU wheel, not PyPI's CUDA build
        assert not [p for p in pins if p.startswith("nvidia-")]


SCRIPTS = {
    "tutorial": (
        "import sklearn, pandas, matplotlib\nmatplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\nfrom sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "x, y = load_iris(return_X_y=True, as_frame=True)\n"
        "print(LogisticRegression(max_iter=500).fit(x, y).score(x, y) > 0.9)\n"
        "plt.plot([1, 2]); print(sklearn.__version__)\n"
    ),
    "sklearn": (
        "import joblib, io, numpy as np, pandas as pd, sklearn\n"
        "from sklearn.linear_model import Ridge\n"
        "x = pd.DataFrame(np.random.RandomState(0).rand(50, 3), columns=list('abc'))\n"
        "m = Ridge(alpha=0.5).fit(x, x['a'] * 2)\nb = io.BytesIO(); joblib.dump(m, b)\n"
        "print(m.score(x, x['a'] * 2) > 0.9)\nprint(sklearn.__version__)\n"
    ),
    "pytorch": (
        "import torch\nx = torch.rand(64, 3); y = x.sum(1, keepdim=True)\n"
        "m = torch.nn.Linear(3, 1); opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "for _ in range(200):\n"
        "    opt.zero_grad(); loss = ((m(x) - y) ** 2).mean(); loss.backward(); opt.step()\n"
        "print(float(loss) < 0.01 and not torch.cuda.is_available())\nprint(torch.__version__)\n"
    ),
    "tensorflow": (
        "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport tensorflow as tf\n"
        "x = tf.random.uniform((64, 3), seed=1); y = tf.reduce_sum(x, 1, keepdims=True)\n"
        "m = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])\n"
        "m.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss='mse')\n"
        "h = m.fit(x, y, epochs=100, verbose=0)\n"
        "print(h.history['loss'][-1] < 0.05)\nprint(tf.__version__)\n"
    ),
}


@needs_311
@pytest.mark.parametrize(
    ("stack", "script", "version"),
    [
        ("tutorial", "tutorial", "1.6.1"),
        ("sklearn-1.1", "sklearn", "1.1.3"),
        ("sklearn-1.5", "sklearn", "1.5.2"),
        ("pytorch", "pytorch", "2.13.0+cpu"),
        ("tensorflow", "tensorflow", "2.21.0"),
    ],
)
def test_curated_environment_builds_and_trains(
    stack, script, version, persistent_build_settings: BuildSettings, new_log
):
    if stack == "pytorch" and not _cpu_torch_wheel(persistent_build_settings):
        pytest.skip("no CPU torch wheel in pip's find-links: the build would fetch CUDA's")
    name, _ = STACKS[stack]
    log = new_log()
    built = ensure_env(_spec(name), persistent_build_settings, log)
    out = subprocess.run(
        [built.python, "-c", SCRIPTS[script]], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["True", version]
