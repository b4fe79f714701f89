"""Compute backends: where the agent runs jobs (``base.ComputeBackend``).

``BACKENDS`` is the one table from a compute type to its backend; Ray plugs in here next.
The 'local' target is not stored: it is this machine, with type ``LOCAL``.
"""

from __future__ import annotations

from runyard._compute.base import ComputeBackend
from runyard._compute.local import LocalClusterBackend, LocalMachineBackend
from runyard._entities import ComputeTargetInfo
from runyard.exceptions import ComputeTargetException

LOCAL = "local"  # the 'local' target's name and compute type

BACKENDS: dict[str, type[ComputeBackend]] = {
    LOCAL: LocalMachineBackend,
    "AmlCompute": LocalClusterBackend,
}


def cluster_types() -> list[str]:
    """Compute types a stored target may have (ComputeTarget.create): all but 'local'."""
    return sorted(t for t in BACKENDS if t != LOCAL)


def backend_for(info: ComputeTargetInfo) -> ComputeBackend:
    """The backend of a stored target, built from its config and state.

    Raises:
        ComputeTargetException: the target's type has no backend here.
    """
    cls = BACKENDS.get(info.compute_type)
    if cls is None or info.compute_type == LOCAL:
        raise ComputeTargetException(
            f"Compute target {info.name!r} is of type {info.compute_type!r}, which cannot run "
            f"jobs here; runnable types: {cluster_types()}."
        )
    return cls(info.name, info.config, info.state)


__all__ = ["BACKENDS", "LOCAL", "backend_for", "cluster_types"]
