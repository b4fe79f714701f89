"""`runyard workspace ...`: create, list and configure embedded workspaces; check, back up
and restore a workspace's database."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from runyard._compute.ray_config import ADDRESS_VARIABLE
from runyard._config import Settings
from runyard._services import workspace_db
from runyard._services import workspaces as _ws
from runyard.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    err_console,
    errors,
    layout_for,
    print_error,
    print_json,
    table,
)
from runyard.exceptions import UserErrorException

app = typer.Typer(help="Create and list embedded workspaces; check, back up, restore them.")
BackupPathArg = typer.Argument(help="A new file, or a folder to write a dated file in.")
RestorePathArg = typer.Argument(help="A backup `runyard workspace backup` wrote.")


@app.command("create")
@errors
def workspace_create(
    name: str,
    subscription_id: str | None = typer.Option(None, "--subscription-id"),
    resource_group: str | None = typer.Option(None, "--resource-group"),
    write_config: bool = typer.Option(
        False, "--write-config", help="Also write .azureml/config.json in the current folder."
    ),
) -> None:
    """Create an embedded workspace under RUNYARD_HOME."""
    settings = Settings.from_env()
    identity, _ = _ws.create_workspace(
        settings, name, subscription_id=subscription_id, resource_group=resource_group
    )
    console.print(f"Created workspace {name!r} at {settings.workspace_root(name)}")
    if write_config:
        path = _ws.write_config_file(identity)
        console.print(f"Wrote {path}")


@app.command("list")
@errors
def workspace_list(as_json: bool = JsonOpt) -> None:
    """List embedded workspaces under RUNYARD_HOME."""
    settings = Settings.from_env()
    found = _ws.list_workspaces(settings)
    rows = []
    for w in found:
        address, source = _ws.ray_address(_ws.layout_for(settings, w.name))
        rows.append(
            {
                "name": w.name,
                "subscription_id": w.subscription_id,
                "resource_group": w.resource_group,
                "location": w.location,
                "created_time": w.created_time,
                "path": str(settings.workspace_root(w.name)),
                "ray_address": address or None,
                "ray_address_from": source,
            }
        )
    if as_json:
        print_json(rows)
        return
    for row in rows:
        if row["ray_address_from"] == ADDRESS_VARIABLE:
            row["ray_address"] = f"{row['ray_address']} ({ADDRESS_VARIABLE})"
    table(f"Workspaces in {settings.home}", rows, ["name", "resource_group", "ray_address",
          "path"])  # fmt: skip


@app.command("configure")
@errors
def workspace_configure(
    workspace: str | None = WorkspaceOpt,
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="host:port of a Ray cluster's head (GCS): the workspace's AmlCompute clusters "
        "run there. '' clears it (they run on this machine).",
    ),
    no_check: bool = typer.Option(
        False, "--no-check", help="Store the address without checking that the cluster answers."
    ),
) -> None:
    """Configure the workspace: the Ray cluster its AmlCompute clusters run on."""
    if ray_address is None:
        raise UserErrorException(
            "Nothing to configure: pass --ray-address host:port (or --ray-address '' to clear it)."
        )
    layout, _ = layout_for(workspace)
    name = layout.root.name
    stored = _ws.configure_ray_address(layout, ray_address, check=not no_check)
    if stored:
        console.print(
            f"Workspace {name!r}: its AmlCompute clusters run on the Ray cluster at {stored}"
            + (" (not checked)" if no_check else ""),
            soft_wrap=True,
        )
    else:
        console.print(
            f"Workspace {name!r}: Ray address cleared; its AmlCompute clusters run on this machine",
            soft_wrap=True,
        )
    effective, source = _ws.ray_address(layout)
    if source == ADDRESS_VARIABLE:
        err_console.print(
            f"[yellow]Warning:[/yellow] {ADDRESS_VARIABLE}={effective} is set in this "
            f"environment and wins over the workspace's setting; unset it to use "
            f"{stored or 'this machine'}.",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )


@app.command("check")
@errors
def workspace_check(
    name: str | None = typer.Argument(None, help="Workspace (default: from config.json)."),
    as_json: bool = JsonOpt,
) -> None:
    """Check the workspace's database (PRAGMA integrity_check, schema revision); exit 1 on
    problems."""
    result = workspace_db.check_database(*layout_for(name))
    if as_json:
        print_json({**dataclasses.asdict(result), "path": str(result.path), "ok": result.ok})
    elif result.ok:
        console.print(
            f"{result.path}: ok ({result.size} bytes, schema revision {result.revision}, "
            f"this Runyard's is {result.head})",
            soft_wrap=True,
        )
    else:
        for problem in result.problems:
            print_error(problem)
        print_error(
            f"{result.path} has {len(result.problems)} problem(s). Restore a backup with "
            "`runyard workspace restore BACKUP -w NAME` (the agent must be stopped)."
        )
    if not result.ok:
        raise typer.Exit(1)


@app.command("backup")
@errors
def workspace_backup(
    path: Path = BackupPathArg,
    workspace: str | None = WorkspaceOpt,
) -> None:
    """Back up the workspace's database with SQLite's online backup (consistent while the
    agent writes)."""
    written = workspace_db.backup_database(*layout_for(workspace), path)
    console.print(f"Backed up to {written}", soft_wrap=True)


@app.command("restore")
@errors
def workspace_restore(
    path: Path = RestorePathArg,
    workspace: str | None = WorkspaceOpt,
) -> None:
    """Replace the workspace's database with a backup (checked first; the agent must be
    stopped); the replaced one is kept as runyard.db.before-restore."""
    done = workspace_db.restore_database(*layout_for(workspace), path)
    console.print(f"Restored {done.path} from {done.source}", soft_wrap=True)
    if done.kept is not None:
        console.print(f"The replaced database is kept as {done.kept}", soft_wrap=True)
