"""The `runyard` command: workspaces, runs, models, the agent, environments, azureml
compatibility and compute targets, over the services. One module per command group."""

from __future__ import annotations

import typer

import runyard
from runyard.cli import (
    agent,
    compat,
    compute,
    envs,
    models,
    quickstart,
    runs,
    services,
    workspace,
)
from runyard.cli._common import console, set_debug

app = typer.Typer(help="Runyard: self-hosted ML runs, metrics and models (Azure ML v1 names).")
app.add_typer(workspace.app, name="workspace")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(agent.app, name="agent")
app.add_typer(envs.app, name="envs")
app.add_typer(compat.app, name="compat")
app.add_typer(compute.app, name="compute")
app.add_typer(services.app, name="services")
app.registered_commands.extend(quickstart.app.registered_commands)


def _version(value: bool) -> None:
    if value:
        console.print(f"runyard {runyard.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an error instead of one line."
    ),
) -> None:
    """Runyard command line."""
    set_debug(debug)
