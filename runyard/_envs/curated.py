"""Curated environments, named like v1's (``AzureML-<Framework>-<version>-<CPU|GPU>`` and
the later ``...-ubuntu20.04-py38-cpu`` / ``azureml-acpt-pytorch-2.2-cuda12.1`` names).

What each name installs is in ``curated_table``; this module turns a name into its v1
definition dict and into the WARNING lines its build log starts with.

Chainer: v1 shipped 5.1.0 and 7.0.0 on Python 3.6. Runyard ships 7.8.1, the last Chainer
release, which is the one measured to install and run on Python 3.11, and serves v1's
older names with it:
- its sdist builds only with ``setuptools<70`` present and without build isolation;
- it needs ``numpy<1.24`` (Chainer uses ``np.sctypes``; scripts of its era use
  ``np.int``/``np.float``). The pin is a constraint, so a user's unpinned ``numpy`` keeps
  it and a contradicting pin is an EnvironmentSpecConflict.
- v1's ``mpi4py==3.0.0`` is left out: it needs an MPI toolchain to build (scale-out issue).
The GPU variant adds ``cupy-cuda12x`` (CUDA 12 wheels); the Chainer estimator chooses it
only when use_gpu is set and the node has a GPU.
"""

from __future__ import annotations

from typing import Any

from runyard._envs.curated_table import (
    CHAINER_CONSTRAINTS,
    CHAINER_PRE_INSTALL,
    CHAINER_VERSIONS,
    CURATED_PYTHON,
    FAMILIES,
    Family,
    Stack,
)
from runyard.exceptions import TrainingException

__all__ = [
    "CHAINER_CONSTRAINTS",
    "CHAINER_PRE_INSTALL",
    "CHAINER_VERSIONS",
    "CURATED_VERSION",
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "curated_names",
    "curated_notices",
    "framework_environment",
    "get_curated",
]

DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest"
CURATED_VERSION = "1"
CHAINER_PYTHON = CURATED_PYTHON

# lower-cased listed name -> (the name as v1 spells it, its family)
_LISTED: dict[str, tuple[str, Family]] = {
    name.lower(): (name, family) for family in FAMILIES for name in family.names
}


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


def _find(name: str) -> tuple[str, Family] | None:
    """(the name to serve under, its family): a listed name in v1's spelling, or another
    OS/Python tag of a listed framework version."""
    listed = _LISTED.get(name.lower())
    if listed is not None:
        return listed
    for family in FAMILIES:
        try:
            version = family.match(name)[0]
        except ValueError:
            continue
        if version in family.versions():
            return name, family
    return None


def _served(name: str, family: Family) -> dict[str, Any]:
    version, _, gpu = family.match(name)
    stack = family.stack_for(version)
    pip = list(stack.pip) + (list(stack.gpu_pip) if gpu else [])
    return _definition(
        name,
        python=stack.python,
        pip=pip,
        base_image=DEFAULT_GPU_IMAGE if gpu else DEFAULT_CPU_IMAGE,
        constraints=stack.constraints,
        pre_install=stack.pre_install,
        no_build_isolation=stack.no_build_isolation,
    )


def curated_names() -> list[str]:
    """Every listed curated name, as v1 spells it."""
    return sorted(name for name, _ in _LISTED.values())


def get_curated(name: str) -> dict[str, Any] | None:
    """The curated definition of that name (case-insensitive), or None."""
    found = _find(name)
    return None if found is None else _served(*found)


def curated_notices(name: str) -> list[str]:
    """WARNING lines for a curated name that Runyard serves differently from v1 (another
    framework release, CUDA on the CPU, a package left out); [] for other names."""
    found = _find(name)
    if found is None:
        return []
    name, family = found
    version, v1_python, gpu = family.match(name)
    stack = family.stack_for(version)
    python = f"Python {stack.python}" if stack.python else "the host Python"
    lines = []
    if family.framework and not _same_release(version, stack):
        served = f" (the build of {family.served_as(version, gpu)})" if family.served_as else ""
        on = f" on Python {v1_python}" if v1_python else ""
        lines.append(
            f"WARNING: curated environment {name} had {family.framework} {version}{on} in v1; "
            f"Runyard serves it with {stack.label} on {python}{served}: {stack.why}."
        )
    if gpu and not stack.gpu_pip:
        lines.append(
            f"WARNING: curated environment {name} is a CUDA environment; Runyard builds it with "
            f"{stack.label}, so the run uses the CPU."
        )
    if stack.left_out:
        lines.append(f"WARNING: curated environment {name}: {stack.left_out}.")
    return lines


def _same_release(version: str, stack: Stack) -> bool:
    return stack.release == version or stack.release.startswith(version + ".")


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
        return _definition_of(name), f"GPU found: using curated environment {name}."
    name = f"AzureML-{label}-{version}-CPU"
    notice = None
    if use_gpu:
        notice = (
            f"use_gpu=True but this node has no GPU (nvidia-smi -L failed and /dev/nvidia0 "
            f"is absent): the run uses the CPU, with curated environment {name}."
        )
    return _definition_of(name), notice


def _definition_of(name: str) -> dict[str, Any]:
    definition = get_curated(name)
    assert definition is not None, name  # every framework version is a listed name
    return definition
