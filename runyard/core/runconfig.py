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
from runyard.exceptions import RunConfigurationException
from runyard.exceptions import UserErrorException as UserErrorException

SUPPORTED_PYTORCH_BACKENDS = ["nccl", "gloo"]  # v1's list, lower-case

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


def _check_count(owner: str, name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RunConfigurationException(
            f"{owner}({name}={value!r}): {name} must be an integer >= {minimum}, e.g. "
            f"{owner}({name}=2)."
        )


class MpiConfiguration:
    """An MPI job: ``process_count_per_node`` processes on each of ``node_count`` nodes,
    started together; MPI comes from the PyPI ``mpich`` wheel, with ``mpi4py``, added to
    the run's environment.

    Args:
        process_count_per_node: processes on each node (>= 1).
        node_count: nodes the run takes at once (>= 1; at most the cluster's max_nodes).

    Raises:
        RunConfigurationException: a count is not an integer >= 1.
    """

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1) -> None:
        _check_count("MpiConfiguration", "process_count_per_node", process_count_per_node)
        _check_count("MpiConfiguration", "node_count", node_count)
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count


class PyTorchConfiguration:
    """A torch.distributed job: ``process_count`` processes in all (default: one per node),
    spread evenly over ``node_count`` nodes; each gets MASTER_ADDR, MASTER_PORT, RANK,
    WORLD_SIZE, LOCAL_RANK and NODE_RANK (``init_process_group(init_method='env://')``).

    Args:
        communication_backend: 'Nccl' or 'Gloo' (kept lower-cased, as v1 does).
        process_count: processes in all, a multiple of node_count; None: node_count.
        node_count: nodes the run takes at once (>= 1).

    Raises:
        RunConfigurationException: an unknown backend, or a count that is not >= 1.
    """

    def __init__(
        self,
        communication_backend: str = "Nccl",
        process_count: int | None = None,
        node_count: int = 1,
    ) -> None:
        if str(communication_backend).lower() not in SUPPORTED_PYTORCH_BACKENDS:
            raise RunConfigurationException(
                f"{communication_backend} is not a supported backend. 'communication_backend' "
                "must be 'Nccl' or 'Gloo'."
            )
        if process_count is not None:
            _check_count("PyTorchConfiguration", "process_count", process_count)
        _check_count("PyTorchConfiguration", "node_count", node_count)
        self.communication_backend = str(communication_backend).lower()
        self.process_count = process_count
        self.node_count = node_count


class TensorflowConfiguration:
    """A TensorFlow parameter-server job: ``worker_count`` workers (one per node) and
    ``parameter_server_count`` parameter servers, each told its part in TF_CONFIG.

    Args:
        worker_count: workers, >= 1; the run takes this many nodes (v1's node_count).
        parameter_server_count: parameter servers, >= 0 (0: MultiWorkerMirroredStrategy).

    Raises:
        RunConfigurationException: a count out of range.
    """

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        _check_count("TensorflowConfiguration", "worker_count", worker_count)
        _check_count("TensorflowConfiguration", "parameter_server_count", parameter_server_count, 0)
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


def distribution_sections(rc: RunConfiguration) -> dict[str, Any]:
    """The run definition's distributed parts, with v1's runDefinition keys."""
    return {
        "framework": rc.framework,
        "communicator": rc.communicator,
        "nodeCount": rc.node_count,
        "mpi": {"processCountPerNode": rc.mpi.process_count_per_node},
        "pyTorch": {
            "communicationBackend": rc.pytorch.communication_backend,
            "processCount": rc.pytorch.process_count,
        },
        "tensorflow": {
            "workerCount": rc.tensorflow.worker_count,
            "parameterServerCount": rc.tensorflow.parameter_server_count,
        },
    }


def apply_distributed_job_config(rc: RunConfiguration, config: Any) -> None:
    """ScriptRunConfig's ``distributed_job_config`` onto its RunConfiguration, as v1 does:
    node_count (TensorFlow: worker_count), framework and communicator.

    Raises:
        RunConfigurationException: config is none of the three classes.
    """
    if isinstance(config, TensorflowConfiguration):
        rc.node_count, rc.tensorflow = config.worker_count, config
        rc.framework, rc.communicator = "TensorFlow", "ParameterServer"
    elif isinstance(config, MpiConfiguration):
        rc.node_count, rc.mpi = config.node_count, config
        rc.framework, rc.communicator = "Python", "IntelMpi"
    elif isinstance(config, PyTorchConfiguration):
        rc.node_count, rc.pytorch = config.node_count, config
        rc.framework, rc.communicator = "PyTorch", config.communication_backend
    else:
        raise RunConfigurationException(
            "'distributed_job_config' must be an 'azureml.core.runconfig.TensorflowConfiguration', "
            "'azureml.core.runconfig.MpiConfiguration', or "
            f"'azureml.core.runconfig.PyTorchConfiguration' object, not {config!r}."
        )


class RunConfiguration:
    """The settings of a run besides its source: target, environment, variables, data.

    Args:
        script: The entry script, relative to the source directory.
        arguments: Its command-line arguments.
        framework: 'Python', 'PyTorch', 'TensorFlow' (recorded).
        communicator: 'None', or a distributed run's: 'IntelMpi' / 'OpenMpi' / 'Mpi'
            (self.mpi), 'Nccl' / 'Gloo' (self.pytorch), 'ParameterServer' (self.tensorflow).
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
        # Runyard's own: how many times a run whose node is lost (a Ray worker died) is
        # tried again on another node; None: 1.
        self.max_retries: int | None = None
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
