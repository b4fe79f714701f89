"""The public SDK at azureml.core's names; attributes load on first access (light import)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# v1 notebooks print azureml.core.VERSION first thing.
from runyard import __version__ as VERSION

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads each on first use
    from runyard.core.compute import ComputeTarget
    from runyard.core.dataset import Dataset
    from runyard.core.datastore import Datastore
    from runyard.core.environment import Environment
    from runyard.core.experiment import Experiment
    from runyard.core.keyvault import Keyvault
    from runyard.core.model import Model
    from runyard.core.run import Run
    from runyard.core.runconfig import RunConfiguration
    from runyard.core.script_run_config import ScriptRunConfig
    from runyard.core.webservice import Webservice
    from runyard.core.workspace import Workspace

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
    "Keyvault": "runyard.core.keyvault",
    "RunConfiguration": "runyard.core.runconfig",
    "ScriptRun": "runyard.core.script_run",
    "get_run": "runyard.core.run",
    "Webservice": "runyard.core.webservice",
}

__all__ = [
    "ComputeTarget",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Keyvault",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "VERSION",
    "Webservice",
    "Workspace",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runyard.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
