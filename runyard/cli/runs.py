"""`runyard runs ...`: list, show, follow, cancel and download runs."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from runyard._entities import RunStatus
from runyard._services import follow as _follow
from runyard._services import jobs, metrics, run_details, run_files, runs, sweeps
from runyard.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    errors,
    print_json,
    services_for,
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
        "duration": _duration(info),
        "tags": dict(info.tags),
    }


def _duration(info: RunInfo) -> str | None:
    """h:mm:ss from start to end (to now while it runs); None before it started."""
    if info.start_time is None:
        return None
    end = info.end_time or datetime.now(timezone.utc)
    seconds = max(0, int((end - info.start_time).total_seconds()))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


_STATUS_HELP = (
    "Only runs in this status (repeat for several), e.g. --status Running --status Queued. "
    f"One of: {', '.join(s.value for s in RunStatus)}."
)
_StatusOpt = typer.Option(None, "--status", "-s", help=_STATUS_HELP)


@app.command("list")
@errors
def runs_list(
    workspace: str | None = WorkspaceOpt,
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Only the runs of this experiment."
    ),
    status: list[str] | None = _StatusOpt,
    limit: int | None = typer.Option(
        None, "--limit", "-n", min=1, help="Show at most this many runs (the newest)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """List runs, newest first."""
    services = services_for(workspace)
    if experiment is not None:
        runs.get_experiment(services, experiment)  # ExperimentNotFound names it
    infos = runs.list_runs(services, experiment_name=experiment, statuses=status or None)
    rows = [_run_row(i) for i in infos[:limit]]
    if as_json:
        print_json(rows)
        return
    shown = Table(title="Runs")
    # Run ids are what the other commands take: never cut, whatever the terminal's width.
    longest = max((len(r["run_id"]) for r in rows), default=6)
    shown.add_column("run_id", no_wrap=True, min_width=longest)
    for col in ("experiment", "number", "status", "created_time", "duration"):
        shown.add_column(col)
    for row in rows:
        shown.add_row(
            row["run_id"],
            row["experiment"],
            str(row["number"]),
            row["status"],
            row["created_time"],
            row["duration"] or "",
        )
    console.print(shown)


@app.command("show")
@errors
def runs_show(
    run_id: str = typer.Argument(..., help="The run's id (see `runyard runs list`)."),
    workspace: str | None = WorkspaceOpt,
) -> None:
    """Show a run's details and metrics as JSON (a sweep: its children and best run too)."""
    services = services_for(workspace)
    details = run_details.get_details(services, run_id)
    details["metrics"] = metrics.get_metrics(services, run_id)
    info = runs.get_run(services, run_id)
    details["tags"] = dict(info.tags)
    if info.run_type == sweeps.RUN_TYPE:
        details["sweep"] = sweeps.summary(services, info)
    print_json(details)


@app.command("logs")
@errors
def runs_logs(
    run_id: str = typer.Argument(..., help="The run's id (see `runyard runs list`)."),
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
def runs_cancel(
    run_id: str = typer.Argument(..., help="The run's id (see `runyard runs list`)."),
    workspace: str | None = WorkspaceOpt,
) -> None:
    """Cancel a run."""
    services = services_for(workspace)
    info = runs.get_run(services, run_id)
    if info.status.is_terminal():
        ended = f" at {info.end_time.isoformat()}" if info.end_time else ""
        console.print(
            f"Run {run_id} already ended {info.status.value}{ended}; there is nothing to cancel."
        )
        return
    if info.run_type == runs.INTERACTIVE:
        info = runs.set_status(services, run_id, RunStatus.CANCELED)
    else:
        info = jobs.cancel_run(services, run_id)
    console.print(f"Run {run_id}: {info.status.value}")


@app.command("download")
@errors
def runs_download(
    run_id: str = typer.Argument(..., help="The run's id (see `runyard runs list`)."),
    workspace: str | None = WorkspaceOpt,
    prefix: str | None = typer.Option(
        None, "--prefix", help="Only files whose names start with this, e.g. outputs/."
    ),
    output_dir: str = typer.Option(
        ".", "--output-dir", help="Folder to download into (default: the current one)."
    ),
) -> None:
    """Download a run's files (those under --prefix)."""
    paths = run_files.download_files(
        services_for(workspace), run_id, prefix=prefix, output_directory=output_dir
    )
    console.print(f"Downloaded {len(paths)} file(s) to {output_dir}")
