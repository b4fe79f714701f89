"""`runyard services ...`: list, show, read or follow the log of, get the keys of and delete
deployed web services."""

from __future__ import annotations

import codecs
import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from runyard._services import serving
from runyard._services.service_setup import service_folder
from runyard._serving.host import LOG, START_MARK
from runyard.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    err_console,
    errors,
    print_json,
    services_for,
)
from runyard.exceptions import ServiceNotFound, UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services
    from runyard._services.serving import ServiceView


app = typer.Typer(help="List, inspect, read the logs of, get the keys of and delete web services.")
NameArg = typer.Argument(..., help="The service's name (see `runyard services list`).")
_SECRET_FIELDS = ("primary_key", "secondary_key")
_SHOWN_ABOVE = ("description", "tags", "properties")  # rows of their own in `show`


def _models(view: ServiceView) -> list[str]:
    return [str(m["id"]) for m in view.info.spec.get("models") or []]


def _service_row(view: ServiceView) -> dict[str, Any]:
    return {
        "name": view.info.name,
        "compute_type": view.info.compute_type,
        "state": view.state,
        "scoring_uri": view.scoring_uri,
        "models": _models(view),
        "restarts": view.restarts,
        "updated_time": view.info.modified_time.isoformat(),
    }


def _service_details(view: ServiceView) -> dict[str, Any]:
    """Everything of one service but its keys and its environment's body (name and
    version stand for it)."""
    info = view.info
    deployment = {
        k: v for k, v in (info.spec.get("deployment") or {}).items() if k not in _SECRET_FIELDS
    }
    inference = dict(info.spec.get("inference") or {})
    environment = inference.pop("environment", None) or {}
    inference["environment"] = {"name": environment.get("name"), "version":
                                environment.get("version")}  # fmt: skip
    return {
        "name": info.name,
        "compute_type": info.compute_type,
        "state": view.state,
        "error": view.error,
        "scoring_uri": view.scoring_uri,
        "swagger_uri": view.swagger_uri,
        "port": view.port,
        "auth_enabled": bool(deployment.get("auth_enabled")),
        "version": info.generation,
        "served_version": view.served_generation,
        "restarts": view.restarts,
        "created_time": info.created_time.isoformat(),
        "updated_time": info.modified_time.isoformat(),
        "description": deployment.get("description"),
        "tags": dict(deployment.get("tags") or {}),
        "properties": dict(deployment.get("properties") or {}),
        "models": [dict(m) for m in info.spec.get("models") or []],
        "deployment": deployment,
        "inference": inference,
    }


@app.command("list")
@errors
def services_list(workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the workspace's web services (a first look after a reboot starts them again)."""
    rows = [_service_row(v) for v in serving.list_views(services_for(workspace))]
    if as_json:
        print_json(rows)
        return
    shown = Table(title="Web services")
    # Names and scoring URIs are what users copy: never cut, whatever the terminal's width.
    shown.add_column("name", no_wrap=True)
    for col in ("compute_type", "state"):
        shown.add_column(col)
    shown.add_column("scoring_uri", no_wrap=True)
    for col in ("models", "restarts", "updated_time"):
        shown.add_column(col)
    for row in rows:
        shown.add_row(
            row["name"],
            row["compute_type"],
            row["state"],
            row["scoring_uri"] or "",
            ", ".join(row["models"]),
            str(row["restarts"]),
            row["updated_time"],
        )
    console.print(shown)


@app.command("show")
@errors
def services_show(
    name: str = NameArg, workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Show one service: state, error, URIs, models, deployment and inference settings."""
    details = _service_details(serving.view(services_for(workspace), name))
    if as_json:
        print_json(details)
        return
    shown = Table(title=f"Web service {name}", show_header=False)
    shown.add_column("field", no_wrap=True)
    shown.add_column("value", overflow="fold")
    for key, value in details.items():
        if key in ("deployment", "inference"):
            for sub, setting in value.items():
                if setting not in (None, {}, []) and sub not in _SHOWN_ABOVE:
                    shown.add_row(f"{key}.{sub}", _shown(setting))
        elif key == "models":
            shown.add_row(key, ", ".join(m["id"] for m in value))
        else:
            shown.add_row(key, _shown(value))
    console.print(shown)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


@app.command("logs")
@errors
def services_logs(
    name: str = NameArg,
    workspace: str | None = WorkspaceOpt,
    num_lines: int = typer.Option(
        5000, "--num-lines", "-n", min=0, help="Print at most this many last lines."
    ),
    init: bool = typer.Option(
        False, "--init", help="Only the log of the latest start (environment build, init())."
    ),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new lines until Ctrl-C."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Print a service's log: environment build, init(), every 500's traceback, restarts."""
    if follow and as_json:
        raise UserErrorException(
            "--json prints the log once, as {name, log}: leave out --follow, or --json to "
            "follow the log."
        )
    services = services_for(workspace)
    if follow:
        _follow(services, name, num_lines=num_lines, init=init)
        return
    text = serving.logs(services, name, num_lines=num_lines, init=init)
    if as_json:
        print_json({"name": name, "log": text})
        return
    sys.stdout.write(text)


def _follow(services: Services, name: str, *, num_lines: int, init: bool) -> None:
    """Prints the log's last lines, then what it gains, by byte offset (each byte once,
    partial lines too), until Ctrl-C or the service is deleted."""
    serving.view(services, name)  # ServiceNotFound; after a reboot, starts it again
    path = service_folder(services, name) / LOG
    data = _read(path, 0)
    offset = len(data)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    _write(decoder.decode(_last_lines(data, num_lines, init)))
    try:
        while True:
            size = _size(path)
            if size is None and _deleted(services, name):
                err_console.print(f"Service {name} was deleted; its log ends here.")
                return
            if size is not None and size < offset:
                offset = 0  # deleted and deployed again between two looks: a new log
            chunk = _read(path, offset)
            offset += len(chunk)
            _write(decoder.decode(chunk))
            time.sleep(serving.POLL)
    except KeyboardInterrupt:
        _write(decoder.decode(b"", final=True) + "\n")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _read(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""


def _last_lines(data: bytes, num_lines: int, init: bool) -> bytes:
    """What ``serving.logs`` shows of the same bytes: the last ``num_lines`` lines (of the
    latest start with ``init``)."""
    lines = io.BytesIO(data).readlines()
    if init:
        starts = [i for i, line in enumerate(lines) if line.startswith(START_MARK.encode())]
        lines = lines[starts[-1] :] if starts else lines
    return b"".join(lines[-num_lines:] if num_lines > 0 else [])


def _deleted(services: Services, name: str) -> bool:
    try:
        serving.view(services, name)
    except ServiceNotFound:
        return True
    return False


def _write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


@app.command("keys")
@errors
def services_keys(
    name: str = NameArg, workspace: str | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Print a service's primary and secondary keys (send one as `Authorization: Bearer KEY`)."""
    primary, secondary = serving.get_keys(services_for(workspace), name)
    if as_json:
        print_json({"primary_key": primary, "secondary_key": secondary})
        return
    for label, key in (("Primary", primary), ("Secondary", secondary)):
        console.print(f"{label} key: {key}", markup=False, highlight=False, soft_wrap=True)


@app.command("delete")
@errors
def services_delete(
    name: str = NameArg,
    workspace: str | None = WorkspaceOpt,
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking first."),
    as_json: bool = JsonOpt,
) -> None:
    """Delete a service: stop it, free its port, remove its keys and logs."""
    services = services_for(workspace)
    view = serving.view(services, name)  # ServiceNotFound before asking
    if not yes:
        where = f" at {view.scoring_uri}" if view.scoring_uri else ""
        typer.confirm(
            f"Delete service {name} ({view.info.compute_type}, {view.state}{where})? It stops "
            "serving, and its keys and logs are removed.",
            abort=True,
            err=True,
        )
    serving.delete(services, name)
    if as_json:
        print_json({"name": name, "deleted": True})
        return
    console.print(f"Deleted service {name}.", markup=False, highlight=False)
