"""Environments for the SDK: registered ones (register, get, list through the workspace's
store), curated framework environments, the default Docker images, and the build's WARNING
lines for a run's details."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard._envs import curated, gpu, registry
from runyard.exceptions import ArtifactNotFound

BUILD_WARNING_SOURCE = "EnvironmentBuild"
_BUILD_LOG = "azureml-logs/20_image_build_log.txt"
_WARNING = "WARNING: "

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


def build_warnings(services: Services, run_id: str) -> list[dict[str, str]]:
    """v1's details ``warnings`` entries for the WARNING lines of the run's build log
    (a Python or a pin substituted, a curated environment served differently), in order."""
    try:
        text = services.artifacts.read_bytes(f"runs/{run_id}/{_BUILD_LOG}").decode(
            "utf-8", "replace"
        )
    except (ArtifactNotFound, FileNotFoundError):
        return []  # not prepared yet, or no environment to build
    found: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.startswith(_WARNING):
            entry = {"source": BUILD_WARNING_SOURCE, "message": line[len(_WARNING) :]}
            if entry not in found:  # a cluster run may prepare twice
                found.append(entry)
    return found
