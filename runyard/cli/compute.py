"""`runyard compute ...`: compute targets."""

from __future__ import annotations

from typing import Any

import typer

from runyard._services import compute
from runyard.cli._common import JsonOpt, WorkspaceOpt, errors, print_json, services_for, table

app = typer.Typer(help="List and inspect compute targets (clusters).")


def _compute_row(info: Any) -> dict[str, Any]:
    status = compute.target_status(info)
    return {
        "name": info.name,
        "type": info.compute_type,
        "vm_size": info.config.get("vm_size"),
        "provisioning_state": info.provisioning_state,
        "nodes": status["currentNodeCount"],
        "min_nodes": status["scaleSettings"]["minNodeCount"],
        "max_nodes": status["scaleSettings"]["maxNodeCount"],
        "allocation_state": status["allocationState"],
    }


@app.command("list")
@errors
def compute_list(workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the workspace's compute targets."""
    rows = [_compute_row(i) for i in compute.list_compute_targets(services_for(workspace))]
    if as_json:
        print_json(rows)
        return
    table("Compute targets", rows, ["name", "type", "vm_size", "provisioning_state", "nodes",
           "min_nodes", "max_nodes", "allocation_state"])  # fmt: skip


@app.command("show")
@errors
def compute_show(name: str, workspace: str | None = WorkspaceOpt) -> None:
    """Show a compute target's status (v1's keys) and nodes as JSON."""
    info = compute.get_compute_target(services_for(workspace), name)
    print_json({"name": info.name, "type": info.compute_type, "status":
                 compute.target_status(info), "nodes": compute.list_nodes(info)})  # fmt: skip
