"""`runyard compute ...`: compute targets, with the nodes and queue of those on Ray."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from runyard._services import compute
from runyard.cli._common import JsonOpt, WorkspaceOpt, errors, print_json, services_for, table
from runyard.exceptions import ComputeTargetException

if TYPE_CHECKING:
    from runyard._entities import ComputeTargetInfo
    from runyard._services import Services

app = typer.Typer(help="List and inspect compute targets (clusters).")
_GIB = 2**30  # Ray counts a node's memory resource in bytes


def _compute_row(services: Services, info: ComputeTargetInfo) -> dict[str, Any]:
    address = compute.ray_address_for(services, info)
    status: dict[str, Any] | None = None
    error = None
    try:
        status = compute.target_status(info)
    except ComputeTargetException as exc:
        # A type this Runyard has no backend for (an attached Ray cluster without the Ray
        # backend): one such target must not hide the others.
        error = str(exc)
    row: dict[str, Any] = {
        "name": info.name,
        "type": info.compute_type,
        "vm_size": info.config.get("vm_size"),
        "provisioning_state": info.provisioning_state,
        "nodes": status["currentNodeCount"] if status else None,
        "min_nodes": status["scaleSettings"]["minNodeCount"] if status else None,
        "max_nodes": status["scaleSettings"]["maxNodeCount"] if status else None,
        "allocation_state": status["allocationState"] if status else None,
    }
    if address:
        row["ray_address"] = address
        row["ray_nodes"] = compute.list_nodes(info) if status else []
        row["queue"] = list(status.get("queue") or []) if status else []
    if status is None:
        row["error"] = error
    return row


def _where(row: dict[str, Any]) -> str:
    """'Ray at host:port', 'AmlCompute on Ray at host:port', or the type."""
    address = row.get("ray_address")
    if not address:
        return str(row["type"])
    if row["type"] == compute.RAY_TYPE:
        return f"Ray at {address}"
    return f"{row['type']} on Ray at {address}"


def _resource(value: Any, *, memory: bool = False) -> str:
    if not isinstance(value, int | float):
        return ""
    return f"{value / _GIB:.1f} GiB" if memory else f"{value:g}"


def _ray_details(row: dict[str, Any]) -> None:
    """The nodes and the queue of a target on Ray, each as a table."""
    where = _where(row)
    nodes = [
        {
            **node,
            "CPU": _resource((node.get("resources") or {}).get("CPU")),
            "GPU": _resource((node.get("resources") or {}).get("GPU")),
            "memory": _resource((node.get("resources") or {}).get("memory"), memory=True),
        }
        for node in row["ray_nodes"]
    ]
    if nodes:
        table(f"Nodes of {row['name']} ({where})", nodes, ["nodeId", "rayNodeId", "nodeState",
              "runId", "CPU", "GPU", "memory", "privateIpAddress"])  # fmt: skip
    if row["queue"]:
        table(f"Queue of {row['name']} ({where})", row["queue"], ["runId", "reason"])


@app.command("list")
@errors
def compute_list(workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the workspace's compute targets; for those on Ray, their nodes and queue."""
    services = services_for(workspace)
    rows = [_compute_row(services, i) for i in compute.list_compute_targets(services)]
    if as_json:
        print_json(rows)
        return
    columns = ["name", "type", "vm_size", "provisioning_state", "nodes", "min_nodes",
               "max_nodes", "allocation_state"]  # fmt: skip
    on_ray = [row for row in rows if row.get("ray_address")]
    if on_ray:
        columns.append("queued")
    if any("error" in row for row in rows):
        columns.append("error")
    shown = [
        {**row, "type": _where(row), "queued": len(row["queue"]) if "queue" in row else None}
        for row in rows
    ]
    table("Compute targets", shown, columns)
    for row in on_ray:
        _ray_details(row)


@app.command("show")
@errors
def compute_show(name: str, workspace: str | None = WorkspaceOpt) -> None:
    """Show a compute target's status (v1's keys) and nodes as JSON; for one on Ray, also
    its address and queue."""
    services = services_for(workspace)
    info = compute.get_compute_target(services, name)
    status = compute.target_status(info)
    shown = {"name": info.name, "type": info.compute_type, "status": status,
             "nodes": compute.list_nodes(info)}  # fmt: skip
    address = compute.ray_address_for(services, info)
    if address:
        shown["ray_address"] = address
        shown["queue"] = list(status.get("queue") or [])
    print_json(shown)
