"""Compute targets as the SDK sees them: create or attach, read, change and delete them,
their status and nodes, and the vm-size table's facts (``runyard.core.compute`` calls these).

A Ray cluster is attached, not created (``ComputeTarget.attach``): its target is stored with
type ``RAY_TYPE`` once its address answers, and ``AmlCompute`` clusters of a workspace with
a Ray address (``ray_address_for``) run there too.

The agent's side, which places runs on nodes, is ``scheduler.py``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Any

from runyard._compute import backend_for, cluster_types
from runyard._compute.ray_config import RAY_TYPE as RAY_TYPE
from runyard._compute.ray_config import (
    check_reachable,
    split_address,
    workspace_ray_address,
)
from runyard._compute.vm_sizes import DEFAULT_VM_SIZE, VM_SIZES, gpu_notice, vm_size
from runyard._entities import ComputeTargetInfo
from runyard._envs import gpu
from runyard._services import Services, agent_client
from runyard.exceptions import ComputeTargetException

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,15}$")
TERMINAL_PROVISIONING = ("Succeeded", "Failed", "Canceled")
# Types a target gets by ComputeTarget.attach: an existing cluster, never created here.
ATTACH_TYPES = (RAY_TYPE,)


def check_cluster_name(name: object) -> str:
    """v1's rule: 2-16 characters, letters, digits and '-', starting with a letter."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ComputeTargetException(
            f"Compute target name {name!r} is invalid: use 2 to 16 characters, letters, "
            "digits and '-', starting with a letter (e.g. 'cpu-cluster')."
        )
    return name


def default_vm_size() -> str:
    """v1's AmlCompute default when vm_size is ''."""
    return DEFAULT_VM_SIZE


def vm_size_name(name: str) -> str:
    """The size's name as stored (upper case); ComputeTargetException for an unknown one,
    naming the closest known sizes."""
    return vm_size(name).name.upper()


def supported_vm_sizes() -> list[dict[str, object]]:
    """``AmlCompute.supported_vmsizes``: [{name, vCPUs, gpus, memoryGB, maxResourceVolumeMB}]."""
    return [size.to_v1() for size in VM_SIZES.values()]


@functools.lru_cache(maxsize=1)
def host_has_gpu() -> bool:
    return gpu.gpu_present()


def gpu_warning(info: ComputeTargetInfo) -> str | None:
    """'STANDARD_NC6 has 1 GPU(s) but this machine has none: ...' or None."""
    size = info.config.get("vm_size")
    if not size:
        return None
    return gpu_notice(vm_size(str(size)), host_has_gpu=host_has_gpu())


def create_compute_target(
    services: Services, name: str, compute_type: str, config: Mapping[str, Any]
) -> ComputeTargetInfo:
    """Stores the target (provisioning "Creating") and wakes the agent, which provisions it.

    Raises:
        ComputeTargetException: a bad name; ComputeTargetExists for a taken one.
    """
    check_cluster_name(name)
    if compute_type in ATTACH_TYPES:
        raise ComputeTargetException(
            f"A {compute_type} target is attached, not created: use ComputeTarget.attach(ws, "
            f"{name!r}, RayCompute.attach_configuration(address='host:port'))."
        )
    if compute_type not in creatable_types():
        raise ComputeTargetException(
            f"Compute type {compute_type!r} cannot be created here; supported: {creatable_types()}."
        )
    info = services.store.create_compute_target(
        name=name, compute_type=compute_type, config=dict(config)
    )
    warning = gpu_warning(info)
    if warning:
        log.warning("%s", warning)
    agent_client.ensure_agent(services.layout, services.settings)
    return info


def creatable_types() -> list[str]:
    """Types ComputeTarget.create accepts: the runnable ones that are not attached."""
    return [t for t in cluster_types() if t not in ATTACH_TYPES]


def check_ray_address(address: object) -> str:
    """The address stripped, once it is host:port (ComputeTargetException otherwise)."""
    if not isinstance(address, str):
        raise ComputeTargetException(
            f"Ray address {address!r} is not host:port; give the head's GCS address as "
            "`ray start --head` prints it (e.g. address='10.0.0.5:6379')."
        )
    scheme, sep, _ = address.strip().partition("://")
    if sep and scheme != "ray":  # split_address explains ray:// itself
        raise ComputeTargetException(
            f"Ray address {address!r} has a URL scheme ({scheme}://); give the head's GCS "
            "address as host:port, as `ray start --head` prints it (e.g. "
            "address='10.0.0.5:6379')."
        )
    split_address(address)
    return address.strip()


def check_ray_reachable(address: str) -> None:
    """ComputeTargetException naming the address and `ray status --address ...` when
    nothing answers there."""
    check_reachable(address)


def attach_compute_target(
    services: Services, name: str, compute_type: str, config: Mapping[str, Any]
) -> ComputeTargetInfo:
    """Stores an existing cluster as a target once its address answers, and wakes the
    agent, which reads its nodes and marks it Succeeded (there is nothing to provision).

    Raises:
        ComputeTargetException: a bad name or address, a type that is not attached, the
            cluster does not answer (nothing is stored); ComputeTargetExists for a taken name.
    """
    check_cluster_name(name)
    if compute_type not in ATTACH_TYPES:
        raise ComputeTargetException(
            f"Compute type {compute_type!r} cannot be attached; attachable: "
            f"{list(ATTACH_TYPES)}. Create an AmlCompute cluster with ComputeTarget.create(ws, "
            f"{name!r}, AmlCompute.provisioning_configuration(...))."
        )
    address = check_ray_address(config.get("address"))
    check_ray_reachable(address)
    info = services.store.create_compute_target(
        name=name, compute_type=compute_type, config={**config, "address": address}
    )
    # "Creating" until the agent has read the cluster's nodes (wait_for_completion waits
    # for that, so list_nodes() is filled when it returns).
    agent_client.ensure_agent(services.layout, services.settings)
    return info


def detach_compute_target(services: Services, name: str) -> None:
    """Removes an attached target (the cluster itself is left alone), as delete does.

    Raises:
        ComputeTargetNotFound; ComputeTargetException for a created target (delete it).
    """
    info = services.store.get_compute_target(name)
    if info.compute_type not in ATTACH_TYPES:
        raise ComputeTargetException(
            f"{name!r} is a created {info.compute_type}, not an attached target; remove it "
            "with delete()."
        )
    services.store.delete_compute_target(name)


def ray_address_for(services: Services, info: ComputeTargetInfo) -> str:
    """The Ray cluster the target's jobs run on, or '' (this machine): an attached Ray
    target's own address, or for AmlCompute the workspace's (RUNYARD_RAY_ADDRESS first)."""
    if info.compute_type == RAY_TYPE:
        return str(info.config.get("address") or "")
    if info.compute_type == "AmlCompute":
        return workspace_ray_address(services.layout.workspace_json)
    return ""


def get_compute_target(services: Services, name: str) -> ComputeTargetInfo:
    """Raises ComputeTargetNotFound with v1's text."""
    return services.store.get_compute_target(name)


def refresh(services: Services, name: str) -> ComputeTargetInfo:
    """The target as stored; starts the agent if the target waits for it (provisioning,
    or nodes to start) and none is running."""
    info = services.store.get_compute_target(name)
    # A type with no backend here yet (an attached Ray cluster before the Ray backend is
    # registered) has nothing for the agent to do.
    runnable = info.compute_type in cluster_types()
    pending = info.provisioning_state == "Creating" or (
        runnable and backend_for(info).needs_agent()
    )
    if pending and agent_client.agent_pid(services.layout) is None:
        agent_client.ensure_agent(services.layout, services.settings)
    return info


def list_compute_targets(services: Services) -> list[ComputeTargetInfo]:
    return services.store.list_compute_targets()


def update_compute_target(
    services: Services, name: str, changes: Mapping[str, Any]
) -> ComputeTargetInfo:
    """Merges ``changes`` (min_nodes, max_nodes, idle_seconds_before_scaledown) into the
    target's config after checking the result, and wakes the agent to apply it."""
    info = services.store.get_compute_target(name)
    merged = {**info.config, **{k: v for k, v in changes.items() if v is not None}}
    if merged.get("max_nodes") is not None and merged.get("min_nodes", 0) > merged["max_nodes"]:
        raise ComputeTargetException(
            f"min_nodes={merged.get('min_nodes')} is above max_nodes={merged['max_nodes']} for "
            f"{name!r}; pass min_nodes <= max_nodes."
        )
    updated = services.store.update_compute_target(name, config=merged)
    agent_client.ensure_agent(services.layout, services.settings)
    return updated


def delete_compute_target(services: Services, name: str) -> None:
    """Raises ComputeTargetNotFound."""
    services.store.delete_compute_target(name)


def target_status(info: ComputeTargetInfo) -> dict[str, Any]:
    """v1's AmlComputeStatus.serialize() dict."""
    config = info.config
    idle = int(config.get("idle_seconds_before_scaledown", 1800))
    live = backend_for(info).status()
    return {
        **live,
        "creationTime": info.created_time.isoformat(),
        "modifiedTime": info.modified_time.isoformat(),
        "provisioningState": info.provisioning_state,
        "provisioningStateTransitionTime": info.modified_time.isoformat(),
        "scaleSettings": {
            "minNodeCount": int(config.get("min_nodes", 0)),
            "maxNodeCount": int(config.get("max_nodes", 0)),
            "nodeIdleTimeBeforeScaleDown": f"PT{idle}S",
        },
        "vmPriority": str(config.get("vm_priority", "dedicated")).capitalize(),
        "vmSize": config.get("vm_size"),
    }


def list_nodes(info: ComputeTargetInfo) -> list[dict[str, Any]]:
    return backend_for(info).nodes()
