"""``RayCompute``: an existing Ray cluster attached as a compute target (Runyard's own name,
beside v1's attached targets such as ``RemoteCompute``; issue 12)."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from runyard._services import compute
from runyard.core.compute.amlcompute import AmlComputeStatus
from runyard.core.compute.compute_target import _TYPES, ComputeTarget
from runyard.exceptions import ComputeTargetException

if TYPE_CHECKING:
    from runyard._entities import ComputeTargetInfo
    from runyard.core.workspace import Workspace

RAY_TYPE = compute.RAY_TYPE  # the stored compute type
_WAIT_MINUTES = 5


def _number(name: str, value: Any, *, minimum: float, strict: bool, example: str) -> float:
    """A finite int or float above (``strict``) or at least ``minimum``; bools are refused."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ComputeTargetException(
            f"{name}={value!r} is invalid: pass a number {bound} (e.g. {name}={example})."
        )
    return float(value)


class RayComputeAttachConfiguration:
    """What ``RayCompute.attach_configuration`` returns; pass it to ``ComputeTarget.attach``.

    Attributes:
        address: The head's GCS address, host:port.
        max_nodes: Most Ray nodes in use at once; None: as many as the cluster fits.
        cpus_per_node: CPUs one node of this target asks Ray for.
        gpus_per_node: GPUs one node asks for.
        memory_gb: Memory one node asks for, or None (Ray's default: no reservation).
    """

    _compute_type = RAY_TYPE

    def __init__(
        self,
        address: Any,
        max_nodes: Any = None,
        cpus_per_node: Any = 1,
        gpus_per_node: Any = 0,
        memory_gb: Any = None,
    ) -> None:
        self.address = address
        self.max_nodes = max_nodes
        self.cpus_per_node = cpus_per_node
        self.gpus_per_node = gpus_per_node
        self.memory_gb = memory_gb

    def validate_configuration(self) -> None:
        """Raises ComputeTargetException naming the bad setting and a good value."""
        self.address = compute.check_ray_address(self.address)
        max_nodes = self.max_nodes
        if max_nodes is not None and (
            isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
        ):
            raise ComputeTargetException(
                f"max_nodes={max_nodes!r} is invalid: pass a whole number >= 1 (e.g. "
                "max_nodes=4), or None for as many nodes as the Ray cluster fits."
            )
        _number("cpus_per_node", self.cpus_per_node, minimum=0, strict=True, example="4")
        _number("gpus_per_node", self.gpus_per_node, minimum=0, strict=False, example="1")
        if self.memory_gb is not None:
            _number("memory_gb", self.memory_gb, minimum=0, strict=True, example="16")

    def _to_config(self) -> dict[str, Any]:
        self.validate_configuration()
        return {
            "address": self.address,
            "max_nodes": self.max_nodes or 0,  # 0: as many as the Ray cluster fits
            "cpus_per_node": float(self.cpus_per_node),
            "gpus_per_node": float(self.gpus_per_node),
            "memory_gb": None if self.memory_gb is None else float(self.memory_gb),
        }

    def __repr__(self) -> str:
        return (
            f"RayComputeAttachConfiguration(address={self.address!r}, max_nodes="
            f"{self.max_nodes!r}, cpus_per_node={self.cpus_per_node!r}, gpus_per_node="
            f"{self.gpus_per_node!r}, memory_gb={self.memory_gb!r})"
        )


class RayComputeStatus(AmlComputeStatus):
    """``ray_target.get_status()``: AmlComputeStatus's fields, plus ``ray_address`` and
    ``queue`` (the runs waiting for a node, each ``{"runId", "reason"}``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.ray_address = data.get("rayAddress")
        self.queue = list(data.get("queue") or [])

    def __repr__(self) -> str:
        return f"RayComputeStatus({self._data!r})"


class RayCompute(ComputeTarget):
    """An existing Ray cluster as a compute target: each node of the target is a Ray
    resource request (``cpus_per_node``, ``gpus_per_node``, ``memory_gb``) on the cluster,
    and runs beyond ``max_nodes`` wait Queued.

    Attach it with ``ComputeTarget.attach(ws, 'ray',
    RayCompute.attach_configuration(address='host:port'))``; get it back with
    ``ComputeTarget(ws, 'ray')`` or ``ws.compute_targets['ray']``.
    """

    _compute_type = RAY_TYPE

    def _bind(self, workspace: Workspace, info: ComputeTargetInfo) -> None:
        super()._bind(workspace, info)
        config = info.config
        self.address = str(config.get("address") or "")
        self.max_nodes = int(config.get("max_nodes") or 0) or None
        self.cpus_per_node = float(config.get("cpus_per_node", 1))
        self.gpus_per_node = float(config.get("gpus_per_node", 0))
        memory = config.get("memory_gb")
        self.memory_gb = None if memory is None else float(memory)

    @staticmethod
    def attach_configuration(
        address: str,
        max_nodes: int | None = None,
        cpus_per_node: float = 1,
        gpus_per_node: float = 0,
        memory_gb: float | None = None,
    ) -> RayComputeAttachConfiguration:
        """The settings of a Ray cluster to attach, checked now (the address is only
        checked for its form here; ``ComputeTarget.attach`` checks that it answers).

        Args:
            address: The head's GCS address, host:port as ``ray start --head`` prints it.
            max_nodes: Most nodes of the target in use at once (>= 1); None: as many as the
                Ray cluster fits.
            cpus_per_node: CPUs each node asks Ray for (> 0).
            gpus_per_node: GPUs each node asks Ray for (>= 0).
            memory_gb: Memory each node asks Ray for (> 0), or None.

        Returns:
            A RayComputeAttachConfiguration for ``ComputeTarget.attach``.

        Raises:
            ComputeTargetException: A bad setting; the message names it and a good value.
        """
        config = RayComputeAttachConfiguration(
            address,
            max_nodes=max_nodes,
            cpus_per_node=cpus_per_node,
            gpus_per_node=gpus_per_node,
            memory_gb=memory_gb,
        )
        config.validate_configuration()
        return config

    # ---- state ---------------------------------------------------------------------------
    def _reload(self) -> ComputeTargetInfo:
        info = compute.get_compute_target(self._workspace._services, self.name)
        self._bind(self._workspace, info)
        return info

    def refresh_state(self) -> None:
        """Re-reads the target as stored."""
        self._reload()

    def get_status(self) -> RayComputeStatus:
        """The current status as the agent last saw the Ray cluster.

        Raises:
            ComputeTargetException: The target is gone, or this Runyard has no Ray backend.
        """
        return RayComputeStatus(compute.target_status(self._reload()))

    @property
    def status(self) -> RayComputeStatus:
        """``get_status()``, read again at each access."""
        return self.get_status()

    def list_nodes(self) -> list[dict[str, Any]]:
        """One item per alive Ray node in use: v1's keys (nodeId, port, privateIpAddress,
        publicIpAddress, nodeState, runId) plus ``rayNodeId`` and ``resources``.

        Raises:
            ComputeTargetException: The target is gone, or this Runyard has no Ray backend.
        """
        return compute.list_nodes(self._reload())

    def wait_for_completion(
        self, show_output: bool = False, is_delete_operation: bool = False
    ) -> None:
        """Waits until the target is attached, then checks that its Ray cluster answers.

        Args:
            show_output: Print the provisioning state and the outcome.
            is_delete_operation: Wait for a detach() (it is done when detach returns).

        Raises:
            ComputeTargetException: Attaching failed, or the Ray cluster at the target's
                address does not answer (the message says how to check it).
        """
        out = sys.stdout
        if is_delete_operation:
            if show_output:
                out.write("Deleting\nSucceeded\n")
            return
        found = self._await_provisioning(
            show_output,
            _WAIT_MINUTES,
            lambda i: i.provisioning_state in compute.TERMINAL_PROVISIONING,
        )
        if found is None:
            return
        info = found
        if info.provisioning_state != "Succeeded":
            raise ComputeTargetException(
                f"Attaching Ray target {self.name!r} ended {info.provisioning_state}: "
                f"{info.state.get('errors') or 'no reason recorded'}. Detach it with "
                f"ComputeTarget(ws, {self.name!r}).detach() and attach it again."
            )
        compute.check_ray_reachable(self.address)
        if show_output:
            out.write(f"RayCompute wait for completion finished: Ray at {self.address}\n")
            out.flush()

    def detach(self) -> None:
        """Removes the target from the workspace; the Ray cluster itself is left running.

        Raises:
            ComputeTargetException: It was already detached ('ComputeTargetNotFound: ...').
        """
        compute.detach_compute_target(self._workspace._services, self.name)
        self.provisioning_state = "Deleting"

    def delete(self) -> None:
        """v1's attached targets are detached, not deleted.

        Raises:
            ComputeTargetException: Always (use detach()).
        """
        raise ComputeTargetException(
            f"Delete is not supported for RayCompute {self.name!r}: it is an attached Ray "
            "cluster; remove it from the workspace with detach()."
        )

    def serialize(self) -> dict[str, Any]:
        """The target as v1's dict: id, name, location, tags and properties (computeType
        'Ray', provisioningState, and the attach settings)."""
        return {
            "id": f"{self._workspace.get_details()['id']}/computes/{self.name}",
            "name": self.name,
            "location": self.location,
            "tags": dict(self.tags),
            "properties": {
                "description": self.description,
                "computeType": self.type,
                "computeLocation": self.cluster_location,
                "provisioningState": self.provisioning_state,
                "provisioningErrors": self.provisioning_errors,
                "properties": {
                    "address": self.address,
                    "maxNodes": self.max_nodes,
                    "cpusPerNode": self.cpus_per_node,
                    "gpusPerNode": self.gpus_per_node,
                    "memoryGb": self.memory_gb,
                },
            },
        }


_TYPES[RAY_TYPE] = RayCompute
