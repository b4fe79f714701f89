"""``AmlCompute``: a cluster whose nodes are slots on this machine (v1 names and checks)."""

from __future__ import annotations

import copy
import sys
from typing import TYPE_CHECKING, Any

from runyard._services import compute
from runyard.core.compute.compute_target import _TYPES, ComputeTarget
from runyard.exceptions import ComputeTargetException

if TYPE_CHECKING:
    from runyard._entities import ComputeTargetInfo
    from runyard.core.workspace import Workspace

_PRIORITIES = ("dedicated", "lowpriority")
_REMOTE_LOGIN = ("Enabled", "Disabled", "NotSpecified")


def _count(name: str, value: Any, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ComputeTargetException(
            f"{name}={value!r} is invalid: pass a whole number >= 0"
            + (" (it is required, e.g. max_nodes=4)." if required else ".")
        )
    return value


class AmlComputeProvisioningConfiguration:
    """What ``AmlCompute.provisioning_configuration`` returns; pass it to
    ``ComputeTarget.create``."""

    _compute_type = "AmlCompute"

    # provisioning_configuration's arguments as given; validate_configuration checks them
    vm_size: Any
    vm_priority: Any
    min_nodes: Any
    max_nodes: Any
    idle_seconds_before_scaledown: Any
    admin_username: Any
    admin_user_password: Any
    admin_user_ssh_key: Any
    vnet_resourcegroup_name: Any
    vnet_name: Any
    subnet_name: Any
    remote_login_port_public_access: Any

    def __init__(self, **settings: Any) -> None:
        self.__dict__.update(settings)

    def validate_configuration(self) -> None:
        """Raises ComputeTargetException naming the bad setting (v1's checks)."""
        compute.vm_size_name(self.vm_size)
        if self.vm_priority not in _PRIORITIES:
            raise ComputeTargetException(
                f"vm_priority={self.vm_priority!r} is invalid: use 'dedicated' or 'lowpriority'."
            )
        _count("min_nodes", self.min_nodes, required=True)
        _count("max_nodes", self.max_nodes, required=True)
        if self.min_nodes > self.max_nodes:
            raise ComputeTargetException(
                f"min_nodes={self.min_nodes} is above max_nodes={self.max_nodes}; pass "
                "min_nodes <= max_nodes."
            )
        _count("idle_seconds_before_scaledown", self.idle_seconds_before_scaledown)
        if self.admin_username and not (self.admin_user_password or self.admin_user_ssh_key):
            raise ComputeTargetException(
                f"admin_username={self.admin_username!r} needs admin_user_password or "
                "admin_user_ssh_key."
            )
        vnet = (self.vnet_name, self.vnet_resourcegroup_name, self.subnet_name)
        if any(vnet) and not all(vnet):
            raise ComputeTargetException(
                "A virtual network needs all of vnet_name, vnet_resourcegroup_name and "
                f"subnet_name; got {vnet!r}."
            )
        if self.remote_login_port_public_access not in _REMOTE_LOGIN:
            raise ComputeTargetException(
                f"remote_login_port_public_access={self.remote_login_port_public_access!r} "
                f"is invalid: use one of {list(_REMOTE_LOGIN)}."
            )

    def _to_config(self) -> dict[str, Any]:
        config = {k: v for k, v in self.__dict__.items() if not k.startswith("admin_user_")}
        config["vm_size"] = compute.vm_size_name(self.vm_size)
        if config["idle_seconds_before_scaledown"] is None:
            config["idle_seconds_before_scaledown"] = 1800
        return config


class ScaleSettings:
    """``cluster.scale_settings``: minimum_node_count, maximum_node_count,
    idle_seconds_before_scaledown."""

    def __init__(self, minimum_node_count: int, maximum_node_count: int, idle: int) -> None:
        self.minimum_node_count = minimum_node_count
        self.maximum_node_count = maximum_node_count
        self.idle_seconds_before_scaledown = idle

    def __repr__(self) -> str:
        return (
            f"ScaleSettings(minimum_node_count={self.minimum_node_count}, maximum_node_count="
            f"{self.maximum_node_count}, idle_seconds_before_scaledown="
            f"{self.idle_seconds_before_scaledown})"
        )


class AmlComputeStatus:
    """``cluster.get_status()``; ``serialize()`` gives v1's camelCase dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        counts = data["nodeStateCounts"]
        self.current_node_count = data["currentNodeCount"]
        self.target_node_count = data["targetNodeCount"]
        self.node_state_counts = counts
        self.allocation_state = data["allocationState"]
        self.allocation_state_transition_time = data["allocationStateTransitionTime"]
        self.errors = data["errors"]
        self.creation_time = data["creationTime"]
        self.modified_time = data["modifiedTime"]
        self.provisioning_state = data["provisioningState"]
        self.provisioning_state_transition_time = data["provisioningStateTransitionTime"]
        self.scale_settings = data["scaleSettings"]
        self.vm_priority = data["vmPriority"]
        self.vm_size = data["vmSize"]

    def serialize(self) -> dict[str, Any]:
        """The status as v1's dict (currentNodeCount, nodeStateCounts, ...)."""
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"AmlComputeStatus({self._data!r})"


class AmlCompute(ComputeTarget):
    """A cluster that scales between min_nodes and max_nodes as runs queue.

    Each node is a slot on this machine; runs beyond max_nodes wait Queued. Get one with
    ``AmlCompute(ws, name)`` or ``ComputeTarget(ws, name)``; create it with
    ``ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration(...))``.
    """

    _compute_type = "AmlCompute"

    def _bind(self, workspace: Workspace, info: ComputeTargetInfo) -> None:
        super()._bind(workspace, info)
        config = info.config
        self.vm_size = config.get("vm_size")
        self.vm_priority = config.get("vm_priority", "dedicated")
        self.scale_settings = ScaleSettings(
            int(config.get("min_nodes", 0)),
            int(config.get("max_nodes", 0)),
            int(config.get("idle_seconds_before_scaledown", 1800)),
        )
        self.admin_username = config.get("admin_username")
        self.status = AmlComputeStatus(compute.target_status(info))

    @staticmethod
    def provisioning_configuration(
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = 1800,
        admin_username: str | None = None,
        admin_user_password: str | None = None,
        admin_user_ssh_key: str | None = None,
        vnet_resourcegroup_name: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        remote_login_port_public_access: str = "NotSpecified",
        identity_type: str | None = None,
        identity_id: list[str] | None = None,
        location: str | None = None,
        enable_node_public_ip: bool = True,
    ) -> AmlComputeProvisioningConfiguration:
        """The settings of a new cluster, checked as v1 checks them.

        Args:
            vm_size: Azure size name (case-insensitive); '' means 'STANDARD_NC6'.
            vm_priority: 'dedicated' or 'lowpriority' (recorded).
            min_nodes: Nodes kept even when idle.
            max_nodes: Most nodes at once (required); runs beyond it wait Queued.
            idle_seconds_before_scaledown: Idle time before a node above min_nodes goes.
            admin_username: Recorded; needs admin_user_password or admin_user_ssh_key.
            admin_user_password: Checked, never stored.
            admin_user_ssh_key: Checked, never stored.
            vnet_resourcegroup_name: Recorded; the three vnet settings go together.
            vnet_name: See vnet_resourcegroup_name.
            subnet_name: See vnet_resourcegroup_name.
            tags: Recorded.
            description: Recorded.
            remote_login_port_public_access: 'Enabled', 'Disabled' or 'NotSpecified'.
            identity_type: Recorded.
            identity_id: Recorded.
            location: Recorded.
            enable_node_public_ip: Recorded.

        Returns:
            An AmlComputeProvisioningConfiguration for ``ComputeTarget.create``.

        Raises:
            ComputeTargetException: A setting v1 rejects; the message names it.
        """
        config = AmlComputeProvisioningConfiguration(
            vm_size=vm_size or compute.default_vm_size(),
            vm_priority=vm_priority,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            admin_username=admin_username,
            admin_user_password=admin_user_password,
            admin_user_ssh_key=admin_user_ssh_key,
            vnet_resourcegroup_name=vnet_resourcegroup_name,
            vnet_name=vnet_name,
            subnet_name=subnet_name,
            tags=dict(tags or {}),
            description=description,
            remote_login_port_public_access=remote_login_port_public_access,
            identity_type=identity_type,
            identity_id=identity_id,
            location=location,
            enable_node_public_ip=enable_node_public_ip,
        )
        config.validate_configuration()
        return config

    @staticmethod
    def supported_vmsizes(workspace: Workspace, location: str | None = None) -> list[dict]:
        """Sizes Runyard knows: [{name, vCPUs, gpus, memoryGB, maxResourceVolumeMB}]."""
        return compute.supported_vm_sizes()

    # ---- state ---------------------------------------------------------------------------
    def _reload(self) -> None:
        self._bind(
            self._workspace, compute.get_compute_target(self._workspace._services, self.name)
        )

    def refresh_state(self) -> None:
        """Re-reads the cluster's state and status."""
        self._reload()

    def get_status(self) -> AmlComputeStatus:
        """The current status (node counts, allocation and provisioning state)."""
        self._reload()
        return self.status

    def list_nodes(self) -> list[dict[str, Any]]:
        """[{nodeId, port, privateIpAddress, publicIpAddress, nodeState, runId}]."""
        return compute.list_nodes(compute.get_compute_target(self._workspace._services, self.name))

    def update(
        self,
        min_nodes: int | None = None,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
    ) -> None:
        """Changes the scale settings; the agent applies them at once.

        Raises:
            ComputeTargetException: A negative count, or min_nodes above max_nodes.
        """
        changes = {
            "min_nodes": _count("min_nodes", min_nodes),
            "max_nodes": _count("max_nodes", max_nodes),
            "idle_seconds_before_scaledown": _count(
                "idle_seconds_before_scaledown", idle_seconds_before_scaledown
            ),
        }
        compute.update_compute_target(self._workspace._services, self.name, changes)
        self._reload()

    def wait_for_completion(
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: int = 25,
        is_delete_operation: bool = False,
    ) -> None:
        """Waits until provisioning ends and at least ``min_node_count`` nodes exist
        (default: the cluster's min_nodes). Does not raise on timeout, as in v1.

        Args:
            show_output: Print the provisioning state as it changes.
            min_node_count: Nodes to wait for.
            timeout_in_minutes: Give up (quietly) after this long.
            is_delete_operation: Wait for a delete() to finish.
        """
        out = sys.stdout
        if is_delete_operation:
            if show_output:
                out.write("Deleting\nSucceeded\n")
            return
        wanted = (
            self.scale_settings.minimum_node_count if min_node_count is None else min_node_count
        )

        def done(info: ComputeTargetInfo) -> bool:
            counts = self.status.node_state_counts
            ready = counts["idleNodeCount"] + counts["runningNodeCount"]
            return info.provisioning_state in compute.TERMINAL_PROVISIONING and (
                ready >= wanted or info.provisioning_state != "Succeeded"
            )

        found = self._await_provisioning(show_output, timeout_in_minutes, done)
        if found is None:
            return
        info = found
        if show_output:
            warning = compute.gpu_warning(info)
            if warning:
                out.write(f"WARNING: {warning}\n")
            out.write("AmlCompute wait for completion finished\n\n")
            if info.provisioning_state == "Succeeded":
                out.write("Minimum number of nodes requested have been provisioned\n")
            out.flush()


_TYPES["AmlCompute"] = AmlCompute
