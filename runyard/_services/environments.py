"""Environments for the SDK: registered ones (register, get, list through the workspace's
store), curated framework environments, and the default Docker images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard._envs import curated, gpu, registry

# The SDK's image defaults (azureml.core.environment names them); core reaches _envs only here.
DEFAULT_CPU_IMAGE = curated.DEFAULT_CPU_IMAGE
DEFAULT_GPU_IMAGE = curated.DEFAULT_GPU_IMAGE

if TYPE_CHECKING:
    from runyard._services import Services


def register_environment(services: Services, name: str, definition: Mapping[str, Any]) -> str:
    """The version ("1", "2", ...) the definition is registered under (kept when unchanged)."""
    return registry.register_environment(services.store, name, definition)


def get_environment(
    services: Services, name: str, version: str | None = None, label: str | None = None
) -> dict[str, Any]:
    """A curated or registered environment's definition (by label, version, or latest)."""
    return registry.get_environment(services.store, name, version, label)


def label_environment(services: Services, name: str, version: str, labels: Sequence[str]) -> None:
    """Moves each label onto that registered version."""
    registry.label_environment(services.store, name, version, labels)


def list_environments(services: Services) -> dict[str, dict[str, Any]]:
    """{name: definition of the latest version}, curated environments first."""
    return registry.list_environments(services.store)


def framework_environment(
    framework: str, framework_version: str, *, use_gpu: bool, gpu_present: bool | None = None
) -> tuple[dict[str, Any], str | None]:
    """The curated definition for a framework estimator and a driver-log line (or None);
    whether this node has a GPU is detected when ``gpu_present`` is None and it matters."""
    if use_gpu and gpu_present is None:
        gpu_present = gpu.gpu_present()
    return curated.framework_environment(
        framework, framework_version, use_gpu=use_gpu, gpu_present=bool(gpu_present)
    )
