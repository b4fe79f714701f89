"""v1's estimator argument rules, each failing with a TrainingException that names the fix."""

from __future__ import annotations

from typing import Any

from runyard.exceptions import TrainingException
from runyard.train._distributed import backend_of

PACKAGE_OPTIONS = (
    "conda_packages",
    "pip_packages",
    "conda_dependencies_file",
    "pip_requirements_file",
)
# environment_definition replaces all of these (v1 _MMLBaseEstimator).
ENVIRONMENT_OPTIONS = (
    *PACKAGE_OPTIONS,
    "custom_docker_image",
    "image_registry_details",
    "use_gpu",
    "shm_size",
    "environment_variables",
    "user_managed",
)
_DEFAULTS: dict[str, Any] = {"use_gpu": False, "user_managed": False}


def _given(options: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if options.get(n) not in (None, [], _DEFAULTS.get(n))]


def check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TrainingException(f"{name}={value!r} is not allowed: {name} must be an integer >= 1.")


def check_target(compute_target: Any, vm_size: str | None) -> None:
    if compute_target is None and vm_size is None:
        raise TrainingException(
            "Either compute_target or vm_size must be given. Pass compute_target='local', a "
            "cluster name or a ComputeTarget; or vm_size='STANDARD_D2_V2' for a run-based cluster."
        )
    kind = getattr(compute_target, "type", None)
    if isinstance(kind, str) and kind.lower() == "hdinsight":
        raise TrainingException(
            f"compute_target {getattr(compute_target, 'name', compute_target)!r} is an HDInsight "
            "cluster; estimators cannot run there. Use an AmlCompute cluster or 'local'."
        )


def check_distribution(
    estimator: str,
    *,
    node_count: int,
    process_count_per_node: int,
    distributed_backend: str | None,
    distributed_training: Any,
    backends: tuple[str, ...],
) -> None:
    check_count("node_count", node_count)
    check_count("process_count_per_node", process_count_per_node)
    if distributed_backend is not None and distributed_training is not None:
        raise TrainingException(
            "Give distributed_training or the deprecated distributed_backend, not both."
        )
    backend = None
    if distributed_training is not None:
        backend = backend_of(distributed_training)
    elif distributed_backend is not None:
        backend = str(distributed_backend).lower()
    if backend is not None and backend not in backends:
        shown = distributed_training if distributed_training is not None else distributed_backend
        raise TrainingException(
            f"{estimator} does not support distributed training with {shown!r}. "
            f"Supported backends: {', '.join(backends)}."
        )
    if (node_count > 1 or process_count_per_node > 1) and backend is None:
        raise TrainingException(
            f"node_count={node_count} and process_count_per_node={process_count_per_node} ask "
            "for distributed training; pass distributed_training (for example "
            "distributed_training=Mpi()) or set both counts to 1."
        )


def check_environment_options(options: dict[str, Any]) -> None:
    """options: the estimator's environment arguments by v1 name."""
    if options.get("environment_definition") is not None:
        clash = _given(options, ENVIRONMENT_OPTIONS)
        if clash:
            raise TrainingException(
                f"environment_definition is given, so {', '.join(clash)} cannot be: the "
                "Environment already fixes packages, image, GPU and variables. Set them on the "
                "Environment (or on the run's environment_variables) instead."
            )
    if options.get("conda_dependencies_file") is not None:
        clash = _given(options, ("pip_packages", "conda_packages", "pip_requirements_file"))
        if clash:
            raise TrainingException(
                f"conda_dependencies_file is given, so {', '.join(clash)} cannot be: list those "
                "packages in the conda file instead."
            )
    if options.get("user_managed"):
        clash = _given(options, PACKAGE_OPTIONS)
        if clash:
            raise TrainingException(
                f"user_managed=True means Runyard installs nothing, so {', '.join(clash)} cannot "
                "be given. Install the packages into your own environment, or drop user_managed."
            )
    if options.get("use_docker") is False:
        clash = _given(options, ("custom_docker_image", "custom_docker_base_image"))
        if clash:
            raise TrainingException(
                f"use_docker=False cannot be combined with {', '.join(clash)}: an image needs "
                "Docker. Drop the image or set use_docker=True."
            )


def pick_renamed(new_name: str, new: Any, old_name: str, old: Any) -> Any:
    """v1 renamed ``*_file_path`` to ``*_file``; both at once is ambiguous."""
    if new is not None and old is not None:
        raise TrainingException(
            f"Give {new_name} or the deprecated {old_name}, not both (got {new!r} and {old!r})."
        )
    return new if new is not None else old
