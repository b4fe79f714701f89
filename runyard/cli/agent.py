"""`runyard agent ...`: the workspace's agent."""

from __future__ import annotations

import dataclasses

import typer

from runyard._services import agent_client
from runyard.cli._common import JsonOpt, WorkspaceOpt, console, errors, print_json, services_for

app = typer.Typer(help="The per-workspace agent that runs submitted jobs.")


@app.command("status")
@errors
def agent_status(workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Show whether the workspace's agent runs, and what it runs."""
    services = services_for(workspace)
    status = agent_client.agent_status(services.layout, services.settings)
    if as_json:
        print_json(dataclasses.asdict(status))
        return
    state = f"running (pid {status.pid})" if status.running else "not running"
    console.print(f"Agent: {state}")
    console.print(f"Running runs: {len(status.running_runs)}")
    console.print(f"Queued runs: {status.queued}")
    console.print(f"Log: {status.log}")
    if not status.running:
        waiting = len(status.running_runs) + status.queued
        why = (
            f"{waiting} run(s) wait for it: start it"
            if waiting
            else "It starts by itself on "
            "submit, wait_for_completion and status reads of an active run; to start it now"
        )
        console.print(f"{why} with `runyard agent start -w {services.layout.root.name}`.")


@app.command("start")
@errors
def agent_start(workspace: str | None = WorkspaceOpt) -> None:
    """Start the workspace's agent (if not running); it then runs or reconciles its runs."""
    services = services_for(workspace)
    before = agent_client.agent_pid(services.layout)
    if before is not None:
        console.print(f"The agent is already running (pid {before}).")
        return
    agent_client.ensure_agent(services.layout, services.settings)
    console.print(f"Agent started (pid {agent_client.agent_pid(services.layout)}).")


@app.command("stop")
@errors
def agent_stop(workspace: str | None = WorkspaceOpt) -> None:
    """Stop the workspace's agent (its running runs end Failed)."""
    stopped = agent_client.stop_agent(services_for(workspace).layout)
    console.print("Agent stopped." if stopped else "No agent was running.")
