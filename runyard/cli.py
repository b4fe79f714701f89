"""The `runyard` command: workspaces, runs, models, the agent, environments, azureml
compatibility and compute targets, over the services."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

import runyard
from runyard import compat
from runyard._config import Settings
from runyard._entities import RunStatus
from runyard._envs import list_envs, prune
from runyard._services import (
    agent_client,
    compute,
    jobs,
    metrics,
    open_services,
    registry,
    run_details,
    run_files,
    runs,
)
from runyard._services import follow as _follow
from runyard._services import workspaces as _ws
from runyard._services.env_cache import environments_in_use
from runyard.exceptions import RunyardError, UserErrorException
from runyard.quickstart import run_quickstart
from runyard.quickstart.chainer_tutorial import run_tutorial

if TYPE_CHECKING:
    from runyard._entities import ModelVersion, RunInfo
    from runyard._services import Services

app = typer.Typer(help="Runyard: self-hosted ML runs, metrics and models (Azure ML v1 names).")
workspace_app = typer.Typer(help="Create and list embedded workspaces.")
runs_app = typer.Typer(help="List, inspect, follow, cancel and download runs.")
models_app = typer.Typer(help="List, inspect and download registered models.")
agent_app = typer.Typer(help="The per-workspace agent that runs submitted jobs.")
envs_app = typer.Typer(help="List and prune the cache of built environments.")
compat_app = typer.Typer(help="Make `import azureml.*` resolve to Runyard in this Python.")
compute_app = typer.Typer(help="List and inspect compute targets (clusters).")
app.add_typer(workspace_app, name="workspace")
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")
app.add_typer(agent_app, name="agent")
app.add_typer(envs_app, name="envs")
app.add_typer(compat_app, name="compat")
app.add_typer(compute_app, name="compute")

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="Workspace name (default: from config.json)."
)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _errors(fn: F) -> F:
    """RunyardError → its message in red and exit code 1, no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RunyardError as exc:
            err_console.print(f"[red]Error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"runyard {runyard.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Runyard command line."""


def _services(workspace: str | None) -> Services:
    settings = Settings.from_env()
    if workspace is None:
        try:
            config = _ws.find_config_file()
        except UserErrorException:
            raise UserErrorException(
                "No workspace given and no config.json found from the current folder up. Pass "
                "--workspace NAME (see `runyard workspace list`), or write a config.json with "
                "ws.write_config()."
            ) from None
        workspace = _ws.read_config_file(config)[2]
    _ws.get_workspace(settings, workspace)
    return open_services(_ws.layout_for(settings, workspace), settings)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# ---- workspace -----------------------------------------------------------------------------


@workspace_app.command("create")
@_errors
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


@workspace_app.command("list")
@_errors
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
        _print_json(rows)
        return
    _table(f"Workspaces in {settings.home}", rows, ["name", "resource_group", "path"])


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


# ---- runs ----------------------------------------------------------------------------------


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


@runs_app.command("list")
@_errors
def runs_list(
    workspace: str | None = WorkspaceOpt,
    experiment: str | None = typer.Option(None, "--experiment", "-e"),
    as_json: bool = JsonOpt,
) -> None:
    """List runs, newest first."""
    infos = runs.list_runs(_services(workspace), experiment_name=experiment)
    rows = [_run_row(i) for i in infos]
    if as_json:
        _print_json(rows)
        return
    _table("Runs", rows, ["run_id", "experiment", "number", "status", "created_time"])


@runs_app.command("show")
@_errors
def runs_show(run_id: str, workspace: str | None = WorkspaceOpt) -> None:
    """Show a run's details and metrics as JSON."""
    services = _services(workspace)
    details = run_details.get_details(services, run_id)
    details["metrics"] = metrics.get_metrics(services, run_id)
    details["tags"] = dict(runs.get_run(services, run_id).tags)
    _print_json(details)


@runs_app.command("logs")
@_errors
def runs_logs(
    run_id: str,
    workspace: str | None = WorkspaceOpt,
    follow: bool = typer.Option(False, "--follow", "-f", help="Stream until the run ends."),
) -> None:
    """Print a run's driver log (or follow it live)."""
    services = _services(workspace)
    if follow:
        _follow.wait_for_run(services, run_id, show_output=True, out=sys.stdout)
        return
    runs.get_run(services, run_id)
    for name in run_details.log_file_names(services, run_id):
        sys.stdout.write(f"===== {name} =====\n")
        sys.stdout.write(run_files.read_file(services, run_id, name).decode("utf-8", "replace"))


@runs_app.command("cancel")
@_errors
def runs_cancel(run_id: str, workspace: str | None = WorkspaceOpt) -> None:
    """Cancel a run."""
    services = _services(workspace)
    info = runs.get_run(services, run_id)
    if info.run_type == runs.INTERACTIVE:
        info = runs.set_status(services, run_id, RunStatus.CANCELED)
    else:
        info = jobs.cancel_run(services, run_id)
    console.print(f"Run {run_id}: {info.status.value}")


@runs_app.command("download")
@_errors
def runs_download(
    run_id: str,
    workspace: str | None = WorkspaceOpt,
    prefix: str | None = typer.Option(None, "--prefix"),
    output_dir: str = typer.Option(".", "--output-dir"),
) -> None:
    """Download a run's files (those under --prefix)."""
    paths = run_files.download_files(
        _services(workspace), run_id, prefix=prefix, output_directory=output_dir
    )
    console.print(f"Downloaded {len(paths)} file(s) to {output_dir}")


# ---- models --------------------------------------------------------------------------------


def _model_row(mv: ModelVersion) -> dict[str, Any]:
    return {
        "name": mv.name,
        "version": mv.version,
        "id": mv.id,
        "created_time": mv.created_time.isoformat(),
        "path": mv.model_path,
        "run_id": mv.run_id,
        "tags": dict(mv.tags),
        "properties": dict(mv.properties),
        "description": mv.description,
    }


@models_app.command("list")
@_errors
def models_list(
    workspace: str | None = WorkspaceOpt,
    name: str | None = typer.Option(None, "--name"),
    as_json: bool = JsonOpt,
) -> None:
    """List registered model versions."""
    rows = [_model_row(m) for m in registry.list_models(_services(workspace), name=name)]
    if as_json:
        _print_json(rows)
        return
    _table("Models", rows, ["name", "version", "path", "run_id", "created_time"])


@models_app.command("show")
@_errors
def models_show(
    name: str,
    workspace: str | None = WorkspaceOpt,
    version: int | None = typer.Option(None, "--version"),
) -> None:
    """Show one model version (latest by default) as JSON."""
    services = _services(workspace)
    mv = registry.get_model(services, name, version)
    _print_json({**_model_row(mv), "files": registry.model_files(services, mv)})


@models_app.command("download")
@_errors
def models_download(
    name: str,
    workspace: str | None = WorkspaceOpt,
    version: int | None = typer.Option(None, "--version"),
    target_dir: str = typer.Option(".", "--target-dir"),
    exist_ok: bool = typer.Option(False, "--exist-ok", help="Overwrite existing files."),
) -> None:
    """Download a model version (latest by default)."""
    services = _services(workspace)
    mv = registry.get_model(services, name, version)
    path = registry.download_model(services, mv, target_dir, exist_ok)
    console.print(f"Downloaded {mv.id} to {path}")


# ---- agent ---------------------------------------------------------------------------------


@agent_app.command("status")
@_errors
def agent_status(workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Show whether the workspace's agent runs, and what it runs."""
    services = _services(workspace)
    status = agent_client.agent_status(services.layout, services.settings)
    if as_json:
        _print_json(dataclasses.asdict(status))
        return
    state = f"running (pid {status.pid})" if status.running else "not running"
    console.print(f"Agent: {state}")
    console.print(f"Running runs: {len(status.running_runs)}")
    console.print(f"Queued runs: {status.queued}")
    console.print(f"Log: {status.log}")


@agent_app.command("stop")
@_errors
def agent_stop(workspace: str | None = WorkspaceOpt) -> None:
    """Stop the workspace's agent (its running runs end Failed)."""
    stopped = agent_client.stop_agent(_services(workspace).layout)
    console.print("Agent stopped." if stopped else "No agent was running.")


# ---- environments --------------------------------------------------------------------------


@envs_app.command("list")
@_errors
def envs_list(as_json: bool = JsonOpt) -> None:
    """List built environments under RUNYARD_HOME/envs, most recently used first."""
    settings = Settings.from_env()
    rows = [
        {
            "hash": env.spec_hash,
            "python": env.python_version,
            "requirements": list(env.requirements),
            "last_used": datetime.fromtimestamp(env.last_used, timezone.utc).isoformat(),
            "build_seconds": env.build_seconds,
            "path": str(env.path),
        }
        for env in list_envs(settings.home / "envs")
    ]
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        row["hash"] = row["hash"][:12]
        row["requirements"] = " ".join(row["requirements"])
    _table(f"Environments in {settings.home / 'envs'}", rows, ["hash", "python", "requirements",
           "last_used", "build_seconds"])  # fmt: skip


@envs_app.command("prune")
@_errors
def envs_prune(
    older_than_days: float | None = typer.Option(
        None, "--older-than-days", help="Only remove environments unused for this many days."
    ),
) -> None:
    """Remove cached environments (not those of queued or running runs)."""
    settings = Settings.from_env()
    older = None if older_than_days is None else older_than_days * 86400
    keep = environments_in_use(settings)
    removed = prune(settings.home / "envs", keep_hashes=keep, older_than_seconds=older)
    console.print(f"Removed {len(removed)} environment(s); kept {len(keep)} in use.")
    for spec_hash in removed:
        console.print(f"  {spec_hash[:12]}")


# ---- azureml compatibility -------------------------------------------------------------


SitePackagesOpt = typer.Option(
    None, "--site-packages", help="The site-packages folder (default: this Python's)."
)


@compat_app.command("enable")
@_errors
def compat_enable(site_packages: str | None = SitePackagesOpt) -> None:
    """Make `import azureml.*` resolve to Runyard in this Python environment."""
    pth = compat.enable(site_packages)
    console.print(f"azureml compatibility enabled ({pth}).")


@compat_app.command("disable")
@_errors
def compat_disable(site_packages: str | None = SitePackagesOpt) -> None:
    """Undo `runyard compat enable`."""
    pth = compat.disable(site_packages)
    console.print(
        f"azureml compatibility disabled (removed {pth})." if pth else "It was not enabled."
    )


@compat_app.command("status")
@_errors
def compat_status(site_packages: str | None = SitePackagesOpt) -> None:
    """Say whether `import azureml.*` resolves to Runyard in this Python environment."""
    console.print("enabled" if compat.is_enabled(site_packages) else "disabled")


# ---- compute -------------------------------------------------------------------------------


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


@compute_app.command("list")
@_errors
def compute_list(workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the workspace's compute targets."""
    rows = [_compute_row(i) for i in compute.list_compute_targets(_services(workspace))]
    if as_json:
        _print_json(rows)
        return
    _table("Compute targets", rows, ["name", "type", "vm_size", "provisioning_state", "nodes",
           "min_nodes", "max_nodes", "allocation_state"])  # fmt: skip


@compute_app.command("show")
@_errors
def compute_show(name: str, workspace: str | None = WorkspaceOpt) -> None:
    """Show a compute target's status (v1's keys) and nodes as JSON."""
    info = compute.get_compute_target(_services(workspace), name)
    _print_json({"name": info.name, "type": info.compute_type, "status":
                 compute.target_status(info), "nodes": compute.list_nodes(info)})  # fmt: skip


# ---- quickstart ----------------------------------------------------------------------------


ProjectDirOpt = typer.Option(
    None, "--project-dir", help="Folder for config.json and the tutorial's files (default: temp)."
)
EpochsOpt = typer.Option(10, "--epochs", min=1, help="Training epochs.")
SimpleOpt = typer.Option(
    False, "--simple", help="Run the small pure-Python demo instead of the Chainer tutorial."
)


@app.command("quickstart")
@_errors
def quickstart(
    project_dir: str | None = ProjectDirOpt,
    epochs: int = EpochsOpt,
    simple: bool = SimpleOpt,
) -> None:
    """Run the 'Train and register Chainer models at scale' tutorial on the embedded workspace."""
    folder = Path(project_dir) if project_dir else None
    if simple:
        run_quickstart(folder, epochs=epochs)
        return

    result = run_tutorial(folder, epochs=epochs)
    accuracy = result["metrics"].get("Accuracy")
    final = accuracy[-1] if isinstance(accuracy, list) else accuracy
    console.print(
        f"[green]Done:[/green] run {result['run_id']} {result['status']}, test accuracy "
        f"{final:.3f}, model {result['model_id']} downloaded to {result['model_file']}"
    )
