"""`runyard workspace ...`: create and list embedded workspaces."""

from __future__ import annotations

import typer

from runyard._config import Settings
from runyard._services import workspaces as _ws
from runyard.cli._common import JsonOpt, console, errors, print_json, table

app = typer.Typer(help="Create and list embedded workspaces.")


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
    rows = [
        {
            "name": w.name,
            "subscription_id": w.subscription_id,
            "resource_group": w.resource_group,
            "location": w.location,
            "created_time": w.created_time,
            "path": str(settings.workspace_root(w.name)),
        }
        for w in found
    ]
    if as_json:
        print_json(rows)
        return
    table(f"Workspaces in {settings.home}", rows, ["name", "resource_group", "path"])
