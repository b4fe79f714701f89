"""Compute backends: where the agent runs jobs (``base.ComputeBackend``).

``BACKENDS`` is the one table from a compute type to its backend. The 'local' target is not
stored: it is this machine, with type ``LOCAL``. An AmlCompute cluster runs on Ray when its
workspace has a Ray address (``ray_config``): the agent passes it to ``backend_for``, and
records it in the target's state, where SDK readers find it.
"""

from __future__ import annotations

from runyard._compute.base import ComputeBackend
from runyard._compute.local import LocalClusterBackend, LocalMachineBackend
from runyard._compute.ray_backend import RayBackend
from runyard._compute.ray_config import RAY_TYPE
from runyard._entities import ComputeTargetInfo
from runyard.exceptions import ComputeTargetException

LOCAL = "local"  # the 'local' target's name and compute type

BACKENDS: dict[str, type[ComputeBackend]] = {
    LOCAL: LocalMachineBackend,
    "AmlCompute": LocalClusterBackend,
    RAY_TYPE: RayBackend,
}
CLUSTER = "AmlCompute"


def cluster_types() -> list[str]:
    """Compute types a stored target may have (ComputeTarget.create): all but 'local'."""
    return sorted(t for t in BACKENDS if t != LOCAL)


def backend_for(info: ComputeTargetInfo, ray_address: str | None = None) -> ComputeBackend:
    """The backend of a stored target, built from its config and state. An AmlCompute
    cluster runs on Ray at ``ray_address`` (the agent's reading of the workspace's; '' for
    none), or, when None is given, where the agent last recorded (its state's rayAddress).

    Raises:
        ComputeTargetException: the target's type has no backend here.
    """
    cls = BACKENDS.get(info.compute_type)
    if cls is None or info.compute_type == LOCAL:
        raise ComputeTargetException(
            f"Compute target {info.name!r} is of type {info.compute_type!r}, which cannot run "
            f"jobs here; runnable types: {cluster_types()}."
        )
    if info.compute_type == CLUSTER:
        address = info.state.get("rayAddress") if ray_address is None else ray_address
        if address:
            return RayBackend(info.name, {**info.config, "address": address}, info.state)
    return cls(info.name, info.config, info.state)


__all__ = ["BACKENDS", "LOCAL", "backend_for", "cluster_types"]
