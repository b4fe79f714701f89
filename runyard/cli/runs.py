"""`runyard runs ...`: list, show, follow, cancel and download runs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from runyard._entities import RunStatus
from runyard._services import follow as _follow
from runyard._services import jobs, metrics, run_details, run_files, runs
from runyard.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    errors,
    print_json,
    services_for,
    table,
)

if TYPE_CHECKING:
    from runyard._entities import RunInfo


app = typer.Typer(help="List, inspect, follow, cancel and download runs.")


def _run_row(info: RunInfo) -> dict[str, Any]:
    return {
        "run_id": info.run_id,
        "experiment": info.experiment_name,
        "number": info.number,
        "status": info.status.value,
        "type": info.run_type,
        "display_name": info.display_name,
        "parent_run_id": info.parent_run_id,
        "created_time": info.created_time.isoformat(),
        "tags": dict(info.tags),
    }


@app.command("list")
@errors
def runs_list(
    workspace: str | None = WorkspaceOpt,
    experiment: str | None = typer.Option(None, "--experiment", "-e"),
    as_json: bool = JsonOpt,
) -> None:
    """List runs, newest first."""
    infos = runs.list_runs(services_for(workspace), experiment_name=experiment)
    rows = [_run_row(i) for i in infos]
    if as_json:
        print_json(rows)
        return
    table("Runs", rows, ["run_id", "experiment", "number", "status", "created_time"])


@app.command("show")
@errors
def runs_show(run_id: str, workspace: str | None = WorkspaceOpt) -> None:
    """Show a run's details and metrics as JSON."""
    services = services_for(workspace)
    details = run_details.get_details(services, run_id)
    details["metrics"] = metrics.get_metrics(services, run_id)
    details["tags"] = dict(runs.get_run(services, run_id).tags)
    print_json(details)


@app.command("logs")
@errors
def runs_logs(
    run_id: str,
    workspace: str | None = WorkspaceOpt,
    follow: bool = typer.Option(False, "--follow", "-f", help="Stream until the run ends."),
) -> None:
    """Print a run's driver log (or follow it live)."""
    services = services_for(workspace)
    if follow:
        _follow.wait_for_run(services, run_id, show_output=True, out=sys.stdout)
        return
    runs.get_run(services, run_id)
    for name in run_details.log_file_names(services, run_id):
        sys.stdout.write(f"===== {name} =====\n")
        sys.stdout.write(run_files.read_file(services, run_id, name).decode("utf-8", "replace"))


@app.command("cancel")
@errors
def runs_cancel(run_id: str, workspace: str | None = WorkspaceOpt) -> None:
    """Cancel a run."""
    services = services_for(workspace)
    info = runs.get_run(services, run_id)
    if info.run_type == runs.INTERACTIVE:
        info = runs.set_status(services, run_id, RunStatus.CANCELED)
    else:
        info = jobs.cancel_run(services, run_id)
    console.print(f"Run {run_id}: {info.status.value}")


@app.command("download")
@errors
def runs_download(
    run_id: str,
    workspace: str | None = WorkspaceOpt,
    prefix: str | None = typer.Option(None, "--prefix"),
    output_dir: str = typer.Option(".", "--output-dir"),
) -> None:
    """Download a run's files (those under --prefix)."""
    paths = run_files.download_files(
        services_for(workspace), run_id, prefix=prefix, output_directory=output_dir
    )
    console.print(f"Downloaded {len(paths)} file(s) to {output_dir}")
