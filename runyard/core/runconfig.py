"""``RunConfiguration`` (v1: ``azureml.core.runconfig``): where and how a script runs.

``DockerConfiguration`` is defined in ``runyard.core.environment`` and re-exported here,
at v1's import path.
"""

from __future__ import annotations

from typing import Any

# `X as X`: re-exported at v1's import paths (azureml.core.runconfig.CondaDependencies ...)
from runyard._reexports import lazy_exports
from runyard.core.conda_dependencies import CondaDependencies as CondaDependencies
from runyard.core.environment import DEFAULT_CPU_IMAGE as DEFAULT_CPU_IMAGE
from runyard.core.environment import DEFAULT_GPU_IMAGE as DEFAULT_GPU_IMAGE
from runyard.core.environment import DockerConfiguration, Environment
from runyard.core.environment import DockerSection as DockerSection
from runyard.core.environment import PythonSection as PythonSection
from runyard.exceptions import UserErrorException as UserErrorException

__all__ = [
    "AmlComputeConfiguration",
    "DockerConfiguration",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "RunConfiguration",
    "TensorflowConfiguration",
]


class AmlComputeConfiguration:
    """``run_config.amlcompute``: vm_size and vm_priority of a run-based cluster (recorded)."""

    def __init__(self, vm_size: str | None = None, vm_priority: str | None = None) -> None:
        self.vm_size = vm_size
        self.vm_priority = vm_priority


class MpiConfiguration:
    """MPI job: processes per node and nodes (recorded; multi-node runs are issue 5)."""

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1) -> None:
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count


class PyTorchConfiguration:
    """torch.distributed job settings (recorded; multi-node runs are issue 5)."""

    def __init__(
        self,
        communication_backend: str = "Nccl",
        process_count: int | None = None,
        node_count: int = 1,
    ) -> None:
        self.communication_backend = communication_backend
        self.process_count = process_count
        self.node_count = node_count


class TensorflowConfiguration:
    """Parameter-server TensorFlow job settings (recorded; multi-node runs are issue 5)."""

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


class RunConfiguration:
    """The settings of a run besides its source: target, environment, variables, data.

    Args:
        script: The entry script, relative to the source directory.
        arguments: Its command-line arguments.
        framework: 'Python' (the others are recorded).
        communicator: 'None' (the others are recorded).
        conda_dependencies: A CondaDependencies for ``environment.python``.
        command: Recorded (ScriptRunConfig runs ``script``).
    """

    def __init__(
        self,
        script: str | None = None,
        arguments: list[Any] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: Any = None,
        _history_enabled: bool | None = None,
        _path: str | None = None,
        _name: str | None = None,
        command: Any = None,
    ) -> None:
        self.script = script
        self.arguments: list[Any] = list(arguments or [])
        self.command = command or ""
        self.target = "local"
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.node_count = 1
        self.max_run_duration_seconds: int | None = None
        # True once the user sets an environment: only then is one built for the run
        self._environment_set = False
        self._environment = Environment("default-environment")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
            self._environment_set = True
        self.docker = DockerConfiguration()
        self.mpi = MpiConfiguration()
        self.pytorch = PyTorchConfiguration()
        self.tensorflow = TensorflowConfiguration()
        self.amlcompute = AmlComputeConfiguration()
        self.environment_variables: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.data_references: dict[str, Any] = {}
        self.output_data: dict[str, Any] = {}
        self.history_enabled = True if _history_enabled is None else _history_enabled

    @property
    def environment(self) -> Environment:
        """The Environment the run uses (built into a cached virtualenv)."""
        return self._environment

    @environment.setter
    def environment(self, value: Environment) -> None:
        self._environment = value
        self._environment_set = True

    def __repr__(self) -> str:
        return (
            f"RunConfiguration(script={self.script!r}, arguments={self.arguments!r}, "
            f"target={self.target!r}, environment={self.environment.name!r})"
        )


# v1 import paths, loaded on first use: compute, data and run stay out of this module's import.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ComputeTarget": "runyard.core.compute",
        "DataPath": "runyard.data",
        "Dataset": "runyard.core.dataset",
        "DatasetConsumptionConfig": "runyard.data",
        "Run": "runyard.core.run",
    },
)
