"""The curated environments v1 users know, and what Runyard installs for each here.

v1 built its curated environments on Docker images with the Python of their day (3.6-3.9)
and CUDA. Here every one is a uv build on Python 3.11 from packages this machine can
install, the nearest release that builds there; where that differs from what v1 had, the
build log says so in a WARNING line (``curated.curated_notices``).

- ``Stack``: what is installed (exact pins, so every build of a name installs the same).
- ``Family``: v1's names of one framework: a pattern (case-insensitive; ``v`` the
  framework's version, ``py`` v1's Python, ``dev`` the CPU/CUDA tag), the concrete names
  ``Environment.list`` shows, and the stack for a version. A name the pattern matches
  whose version is one of the listed ones (another OS or Python tag) is served too.

Measured on this machine (Python 3.11, x86_64): scikit-learn 1.1.3 is the oldest release
with a wheel; torch 2.13.0 has a CPU build in the local wheel folder (pip's find-links),
and PyPI's torchvision does not load beside it; tensorflow-cpu 2.21.0 is the TensorFlow
on the local index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

CURATED_PYTHON = "3.11"
CHAINER_VERSIONS = ("7.8.1",)
CHAINER_CONSTRAINTS = ("numpy<1.24", "setuptools<70")
CHAINER_PRE_INSTALL = ("setuptools<70", "wheel")


@dataclass(frozen=True, slots=True)
class Stack:
    label: str  # for the build log: "scikit-learn 1.1.3"
    release: str  # the framework release installed: "1.1.3" ("" without a framework)
    pip: tuple[str, ...]
    python: str | None = CURATED_PYTHON  # None: the host Python
    constraints: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()
    no_build_isolation: tuple[str, ...] = ()
    gpu_pip: tuple[str, ...] = ()  # added for a CUDA name; none: CUDA names run on the CPU
    left_out: str | None = None  # a package v1 had that is not installed, and why
    why: str = ""  # why this release serves v1's other releases


MINIMAL = Stack("azureml-defaults on the host Python", "", ("azureml-defaults",), python=None)
TUTORIAL = Stack(
    "scikit-learn 1.6.1, pandas 2.2.3 and matplotlib 3.10.9",
    "",
    (
        "azureml-defaults",
        "scikit-learn==1.6.1",
        "pandas==2.2.3",
        "numpy==2.2.6",
        "scipy==1.15.3",
        "matplotlib==3.10.9",
    ),
)
SKLEARN_1_1 = Stack(
    "scikit-learn 1.1.3",
    "1.1.3",
    ("azureml-defaults", "scikit-learn==1.1.3", "numpy==1.23.5", "scipy==1.10.1", "pandas==1.5.3"),
    why="the oldest scikit-learn with a build for Python 3.11 (v1's releases have none)",
)
SKLEARN_1_5 = Stack(
    "scikit-learn 1.5.2",
    "1.5.2",
    # numpy 1.23.5: the last with np.str / np.float, which v1's samples written for this
    # environment still call (train_iris.py of the scikit-learn HyperDrive notebook).
    ("azureml-defaults", "scikit-learn==1.5.2", "numpy==1.23.5", "scipy==1.13.1", "pandas==2.2.3"),
)
TORCH = Stack(
    "PyTorch 2.13.0 (its CPU build)",
    "2.13.0",
    ("azureml-defaults", "torch==2.13.0", "numpy==2.2.6"),
    why="the CPU build of torch this machine has (PyPI's torch wheels for Linux are CUDA "
    "builds of several GB, and v1's 1.x releases have no build for Python 3.11)",
    left_out="torchvision is not installed: PyPI's torchvision does not load beside the CPU "
    "build of torch ('operator torchvision::nms does not exist'); add a CPU torchvision "
    "wheel of the matching release to a find-links folder and pip_packages to use it",
)
TENSORFLOW = Stack(
    "TensorFlow 2.21.0 (tensorflow-cpu, with Keras 3)",
    "2.21.0",
    ("azureml-defaults", "tensorflow-cpu==2.21.0"),
    why="the TensorFlow this machine's package index has (v1's 1.x and 2.x releases before "
    "2.12 have no build for Python 3.11); TF 1.x code runs through tf.compat.v1, and "
    "tf.keras code written for Keras 2 may need tf-keras with TF_USE_LEGACY_KERAS=1",
)
CHAINER = Stack(
    "Chainer 7.8.1",
    "7.8.1",
    ("azureml-defaults", "chainer==7.8.1", "numpy<1.24"),
    constraints=CHAINER_CONSTRAINTS,
    pre_install=CHAINER_PRE_INSTALL,
    no_build_isolation=("chainer",),
    gpu_pip=("cupy-cuda12x",),
    why="v1's releases do not install on Python 3.11; 7.8.1, the last release, keeps their API",
)


@dataclass(frozen=True, slots=True)
class Family:
    framework: str  # "scikit-learn"
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    stack_for: Callable[[str], Stack]
    v1_python: str  # v1's Python when the name does not say ("": unknown)
    served_as: Callable[[str, bool], str] | None = None  # the name whose build is shared

    def versions(self) -> set[str]:
        return {self.match(n)[0] for n in self.names}

    def match(self, name: str) -> tuple[str, str, bool]:
        """(framework version, v1's Python, CUDA asked); raises ValueError if no match."""
        found = self.pattern.fullmatch(name)
        if found is None:
            raise ValueError(name)
        groups = found.groupdict()
        py = groups.get("py")
        python = f"{py[0]}.{py[1:]}" if py else self.v1_python
        dev = (groups.get("dev") or "").lower()
        return groups.get("v") or "", python, "gpu" in dev or "cuda" in dev


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


def _each(template: str, versions: tuple[str, ...], devices: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(template.format(v=v, dev=d) for v in versions for d in devices)


def _sklearn(version: str) -> Stack:
    return SKLEARN_1_5 if tuple(int(p) for p in version.split(".")[:2]) >= (1, 5) else SKLEARN_1_1


def _chainer_name(_version: str, gpu: bool) -> str:
    return f"AzureML-Chainer-7.8.1-{'GPU' if gpu else 'CPU'}"


_PY = r"-ubuntu[\d.]+-py(?P<py>\d+)"
FAMILIES: tuple[Family, ...] = (
    Family("", _pattern(r"AzureML-Minimal"), ("AzureML-Minimal",), lambda _: MINIMAL, "3.6"),
    Family("", _pattern(r"AzureML-Tutorial"), ("AzureML-Tutorial",), lambda _: TUTORIAL, "3.6"),
    Family(
        "Chainer",
        _pattern(r"AzureML-Chainer-(?P<v>\d+\.\d+\.\d+)-(?P<dev>CPU|GPU)"),
        _each("AzureML-Chainer-{v}-{dev}", ("5.1.0", "7.0.0", "7.8.1"), ("CPU", "GPU")),
        lambda _: CHAINER,
        "3.6",
        served_as=_chainer_name,
    ),
    Family(
        "scikit-learn",
        _pattern(
            r"AzureML-Scikit-learn-?(?P<v>\d+\.\d+)(?:\.\d+)?(?P<dev>-Cuda\d+-OpenMpi[\d.]+)?"
            r"(?:-py(?P<py>\d+))?"
        ),
        ("AzureML-Scikit-learn-0.20.3", "AzureML-Scikit-learn0.24-Cuda11-OpenMpi4.1.0-py36"),
        _sklearn,
        "3.6",
    ),
    Family(
        "scikit-learn",
        _pattern(
            rf"AzureML-sklearn-(?P<v>\d+\.\d+)(?:\.\d+)?{_PY}-(?P<dev>cpu|cuda\d+-gpu)"
            r"(?:-inference)?"
        ),
        (
            "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu",
            "AzureML-sklearn-0.24.1-ubuntu18.04-py37-cpu-inference",
            "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu",
        ),
        _sklearn,
        "3.8",
    ),
    Family(
        "scikit-learn",
        _pattern(r"AzureML-sklearn-(?P<v>\d+\.\d+)"),
        ("azureml-sklearn-1.0", "AzureML-sklearn-1.5"),
        _sklearn,
        "",
    ),
    Family(
        "PyTorch",
        _pattern(r"AzureML-PyTorch-(?P<v>\d+\.\d+)-(?P<dev>CPU|GPU)"),
        _each(
            "AzureML-PyTorch-{v}-{dev}",
            ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6"),
            ("CPU", "GPU"),
        ),
        lambda _: TORCH,
        "3.6",
    ),
    Family(
        "PyTorch",
        _pattern(rf"AzureML-pytorch-(?P<v>\d+\.\d+){_PY}-(?P<dev>cuda\d+-gpu|cpu)"),
        (
            "AzureML-pytorch-1.7-ubuntu18.04-py37-cuda11-gpu",
            "AzureML-pytorch-1.8-ubuntu18.04-py37-cuda11-gpu",
            "AzureML-pytorch-1.9-ubuntu18.04-py37-cuda11-gpu",
            "AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu",
        ),
        lambda _: TORCH,
        "3.8",
    ),
    Family(
        "PyTorch",
        _pattern(r"AzureML-acpt-pytorch-(?P<v>\d+\.\d+)-(?P<dev>cuda[\d.]+)"),
        (
            "azureml-acpt-pytorch-1.11-cuda11.3",
            "azureml-acpt-pytorch-1.12-cuda11.6",
            "azureml-acpt-pytorch-1.13-cuda11.7",
            "azureml-acpt-pytorch-2.0-cuda11.7",
            "azureml-acpt-pytorch-2.2-cuda12.1",
        ),
        lambda _: TORCH,
        "",
    ),
    Family(
        "TensorFlow",
        _pattern(r"AzureML-TensorFlow-(?P<v>\d+\.\d+)-(?P<dev>CPU|GPU)"),
        _each(
            "AzureML-TensorFlow-{v}-{dev}",
            ("1.10", "1.12", "1.13", "2.0", "2.1", "2.2", "2.3"),
            ("CPU", "GPU"),
        ),
        lambda _: TENSORFLOW,
        "3.6",
    ),
    Family(
        "TensorFlow",
        _pattern(rf"AzureML-tensorflow-(?P<v>\d+\.\d+){_PY}-(?P<dev>cuda\d+-gpu|cpu)"),
        (
            "AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu",
            "AzureML-tensorflow-2.5-ubuntu20.04-py38-cuda11-gpu",
            "AzureML-tensorflow-2.6-ubuntu20.04-py38-cuda11-gpu",
            "AzureML-tensorflow-2.7-ubuntu20.04-py38-cuda11-gpu",
        ),
        lambda _: TENSORFLOW,
        "3.8",
    ),
    Family(
        "TensorFlow",
        _pattern(r"AzureML-tensorflow-(?P<v>\d+\.\d+)-(?P<dev>cuda\d+)"),
        (
            "azureml-tensorflow-2.11-cuda11",
            "azureml-tensorflow-2.12-cuda11",
            "AzureML-tensorflow-2.16-cuda11",
            "AzureML-tensorflow-2.16-cuda12",
        ),
        lambda _: TENSORFLOW,
        "",
    ),
)
