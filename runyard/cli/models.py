"""`runyard models ...`: list, show and download registered models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from runyard._services import registry
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
    from runyard._entities import ModelVersion


app = typer.Typer(help="List, inspect and download registered models.")


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


@app.command("list")
@errors
def models_list(
    workspace: str | None = WorkspaceOpt,
    name: str | None = typer.Option(None, "--name", help="Only the versions of this model."),
    as_json: bool = JsonOpt,
) -> None:
    """List registered model versions."""
    rows = [_model_row(m) for m in registry.list_models(services_for(workspace), name=name)]
    if as_json:
        print_json(rows)
        return
    table("Models", rows, ["name", "version", "path", "run_id", "created_time"])


@app.command("show")
@errors
def models_show(
    name: str = typer.Argument(..., help="The model's name (see `runyard models list`)."),
    workspace: str | None = WorkspaceOpt,
    version: int | None = typer.Option(None, "--version", help="Version (default: latest)."),
) -> None:
    """Show one model version (latest by default) as JSON."""
    services = services_for(workspace)
    mv = registry.get_model(services, name, version)
    print_json({**_model_row(mv), "files": registry.model_files(services, mv)})


@app.command("download")
@errors
def models_download(
    name: str = typer.Argument(..., help="The model's name (see `runyard models list`)."),
    workspace: str | None = WorkspaceOpt,
    version: int | None = typer.Option(None, "--version", help="Version (default: latest)."),
    target_dir: str = typer.Option(
        ".", "--target-dir", help="Folder to download into (default: the current one)."
    ),
    exist_ok: bool = typer.Option(False, "--exist-ok", help="Overwrite existing files."),
) -> None:
    """Download a model version (latest by default)."""
    services = services_for(workspace)
    mv = registry.get_model(services, name, version)
    path = registry.download_model(
        services, mv, target_dir, exist_ok, spelling=("--exist-ok", "--target-dir")
    )
    console.print(f"Downloaded {mv.id} to {path}")
