"""Curated environments, named like v1's (``AzureML-<Framework>-<version>-<CPU|GPU>``).

Chainer: v1 shipped 5.1.0 and 7.0.0 on Python 3.6. Runyard ships 7.8.1, the last Chainer
release, which is the one measured to install and run on Python 3.11:
- its sdist builds only with ``setuptools<70`` present and without build isolation;
- it needs ``numpy<1.24`` (Chainer uses ``np.sctypes``; scripts of its era use
  ``np.int``/``np.float``). The pin is a constraint, so a user's unpinned ``numpy`` keeps
  it and a contradicting pin is an EnvironmentSpecConflict.
- v1's ``mpi4py==3.0.0`` is left out: it needs an MPI toolchain to build (scale-out issue).
The GPU variant adds ``cupy-cuda12x`` (CUDA 12 wheels); it is chosen only when use_gpu is
set and the node has a GPU.
"""

from __future__ import annotations

import copy
from typing import Any

from runyard.exceptions import TrainingException

DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest"
CURATED_VERSION = "1"
CHAINER_VERSIONS = ("7.8.1",)
CHAINER_PYTHON = "3.11"
CHAINER_CONSTRAINTS = ("numpy<1.24", "setuptools<70")
CHAINER_PRE_INSTALL = ("setuptools<70", "wheel")


def _definition(
    name: str,
    *,
    python: str | None,
    pip: list[str],
    base_image: str,
    constraints: tuple[str, ...] = (),
    pre_install: tuple[str, ...] = (),
    no_build_isolation: tuple[str, ...] = (),
) -> dict[str, Any]:
    deps: list[Any] = [f"python={python}"] if python else []
    deps.append({"pip": pip})
    return {
        "name": name,
        "version": CURATED_VERSION,
        "python": {
            "interpreterPath": "python",
            "userManagedDependencies": False,
            "condaDependencies": {
                "name": "project_environment",
                "dependencies": deps,
                "channels": ["conda-forge"],
            },
            "baseCondaEnvironment": None,
            "runyardBuild": {
                "constraints": list(constraints),
                "preInstallPackages": list(pre_install),
                "noBuildIsolationPackages": list(no_build_isolation),
            },
        },
        "environmentVariables": {},
        "docker": {
            "enabled": False,
            "baseImage": base_image,
            "baseDockerfile": None,
            "buildContext": None,
            "sharedVolumes": True,
            "shmSize": "2g",
            "arguments": [],
            "baseImageRegistry": {},
        },
        "inferencingStackVersion": None,
        "r": None,
    }


def _chainer(version: str, gpu: bool) -> dict[str, Any]:
    pip = ["azureml-defaults", f"chainer=={version}", "numpy<1.24"]
    if gpu:
        pip.append("cupy-cuda12x")
    return _definition(
        f"AzureML-Chainer-{version}-{'GPU' if gpu else 'CPU'}",
        python=CHAINER_PYTHON,
        pip=pip,
        base_image=DEFAULT_GPU_IMAGE if gpu else DEFAULT_CPU_IMAGE,
        constraints=CHAINER_CONSTRAINTS,
        pre_install=CHAINER_PRE_INSTALL,
        no_build_isolation=("chainer",),
    )


def _all() -> dict[str, dict[str, Any]]:
    found = {
        "AzureML-Minimal": _definition(
            "AzureML-Minimal", python=None, pip=["azureml-defaults"], base_image=DEFAULT_CPU_IMAGE
        )
    }
    for version in CHAINER_VERSIONS:
        for gpu in (False, True):
            env = _chainer(version, gpu)
            found[env["name"]] = env
    return found


_CURATED = _all()


def curated_names() -> list[str]:
    return sorted(_CURATED)


def get_curated(name: str) -> dict[str, Any] | None:
    """A copy of the curated definition of that name (case-insensitive), or None."""
    for key, value in _CURATED.items():
        if key.lower() == name.lower():
            return copy.deepcopy(value)
    return None


_FRAMEWORKS = {"chainer": ("Chainer", CHAINER_VERSIONS)}


def framework_environment(
    framework: str, version: str, *, use_gpu: bool, gpu_present: bool
) -> tuple[dict[str, Any], str | None]:
    """(definition, driver-log line or None) for a framework estimator."""
    known = _FRAMEWORKS.get(framework.lower())
    if known is None:
        raise TrainingException(
            f"No curated environment for framework {framework!r}; Runyard ships: "
            f"{sorted(n for n, _ in _FRAMEWORKS.values())}. Pass environment_definition= "
            "to use your own environment."
        )
    label, versions = known
    if version not in versions:
        raise TrainingException(
            f"framework_version {version!r} is not supported for {label}. Supported "
            f"versions: {list(versions)} (v1's 5.1.0/7.0.0 do not run on Python 3.11; 7.8.1 "
            "keeps their API)."
        )
    if use_gpu and gpu_present:
        name = f"AzureML-{label}-{version}-GPU"
        return copy.deepcopy(_CURATED[name]), f"GPU found: using curated environment {name}."
    name = f"AzureML-{label}-{version}-CPU"
    notice = None
    if use_gpu:
        notice = (
            f"use_gpu=True but this node has no GPU (nvidia-smi -L failed and /dev/nvidia0 "
            f"is absent): the run uses the CPU, with curated environment {name}."
        )
    return copy.deepcopy(_CURATED[name]), notice
