"""The public SDK at azureml.core's names; attributes load on first access (light import)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Workspace": "runyard.core.workspace",
    "Experiment": "runyard.core.experiment",
    "Run": "runyard.core.run",
    "Model": "runyard.core.model",
    "ScriptRunConfig": "runyard.core.script_run_config",
    "Environment": "runyard.core.environment",
    "Dataset": "runyard.core.dataset",
    "Datastore": "runyard.core.datastore",
    "ComputeTarget": "runyard.core.compute",
    "RunConfiguration": "runyard.core.runconfig",
}

__all__ = sorted([*_EXPORTS, "VERSION"])


def _version() -> str:
    from runyard import __version__

    return __version__


# v1 notebooks print azureml.core.VERSION first thing.
VERSION = _version()


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runyard.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
