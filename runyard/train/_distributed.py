"""v1's ``azureml.train.dnn`` distributed-training configurations (deprecated there too).

An estimator maps them onto its run configuration as v1 does (``Estimator._apply_distribution``);
the agent runs the ranks (runyard/_compute/ranks.py).
"""

from __future__ import annotations

import logging

from runyard.exceptions import TrainingException

logger = logging.getLogger(__name__)


def _check_count(owner: str, name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TrainingException(f"{owner}({name}={value!r}): {name} must be an integer >= 1.")


class _DistributedTraining:
    """Base of the four configurations; ``backend`` is v1's communicator name."""

    backend: str = ""
    replacement: str = ""

    def _warn_deprecated(self) -> None:
        logger.warning(
            "%s is deprecated in azureml v1; use ScriptRunConfig with distributed_job_config=%s.",
            type(self).__name__,
            self.replacement,
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


class Mpi(_DistributedTraining):
    """MPI-based training (v1: ``azureml.train.dnn.Mpi``).

    Args:
        process_count_per_node: processes on each node, >= 1.
    """

    backend = "mpi"
    replacement = "MpiConfiguration(...)"

    def __init__(self, process_count_per_node: int = 1) -> None:
        _check_count("Mpi", "process_count_per_node", process_count_per_node)
        self.process_count_per_node = process_count_per_node
        self._warn_deprecated()


class ParameterServer(_DistributedTraining):
    """TensorFlow parameter-server training (v1: ``azureml.train.dnn.ParameterServer``).

    Args:
        worker_count: workers (one per node), >= 1.
        parameter_server_count: parameter servers, >= 1.
    """

    backend = "ps"
    replacement = "TensorflowConfiguration(...)"

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        _check_count("ParameterServer", "worker_count", worker_count)
        _check_count("ParameterServer", "parameter_server_count", parameter_server_count)
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count
        self._warn_deprecated()


class Gloo(_DistributedTraining):
    """PyTorch training over Gloo (v1: ``azureml.train.dnn.Gloo``)."""

    backend = "gloo"
    replacement = "PyTorchConfiguration(communication_backend='Gloo')"

    def __init__(self) -> None:
        self._warn_deprecated()


class Nccl(_DistributedTraining):
    """PyTorch training over NCCL (v1: ``azureml.train.dnn.Nccl``)."""

    backend = "nccl"
    replacement = "PyTorchConfiguration(communication_backend='Nccl')"

    def __init__(self) -> None:
        self._warn_deprecated()


def backend_of(distributed_training: object) -> str:
    """'mpi', 'ps', 'gloo' or 'nccl'; an ``MpiConfiguration`` counts as 'mpi'."""
    if isinstance(distributed_training, _DistributedTraining):
        return distributed_training.backend
    if type(distributed_training).__name__ == "MpiConfiguration":
        return "mpi"
    raise TrainingException(
        f"distributed_training={distributed_training!r} is not a distributed configuration. "
        "Use one of azureml.train.dnn Mpi(), ParameterServer(), Gloo(), Nccl(), or "
        "azureml.core.runconfig.MpiConfiguration()."
    )
