"""What every command module of the CLI shares: consoles, options, error printing, the
workspace's services, JSON and table output."""

from __future__ import annotations

import errno
import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from runyard._config import Settings, WorkspaceLayout
from runyard._services import open_services
from runyard._services import workspaces as _ws
from runyard.exceptions import RunyardError, UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services


console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="Workspace name (default: from config.json)."
)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")
# Set by `runyard --debug` (cli/__init__.py) for the command it runs: errors keep their
# traceback.
_debug = [False]
DEBUG_HINT = "(`runyard --debug ...` shows the traceback)"
_WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


def set_debug(on: bool) -> None:
    _debug[0] = on


def print_error(message: str) -> None:
    """One line (no wrapping at the terminal's width) in red on stderr."""
    err_console.print(f"[red]Error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)


def errors(fn: F) -> F:
    """RunyardError → its message in red and exit code 1, no traceback (unless --debug);
    so is a file the command may not write (read-only RUNYARD_HOME, permissions)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RunyardError as exc:
            if _debug[0]:
                raise
            hint = "" if isinstance(exc, UserErrorException) else f" {DEBUG_HINT}"
            print_error(f"{exc}{hint}")
            raise typer.Exit(1) from None
        except OSError as exc:
            if _debug[0] or exc.errno not in _WRITE_ERRNOS:
                raise
            print_error(
                f"Cannot write {exc.filename}: {exc.strerror}. Give this user write permission "
                f"there (or mount it read-write), or set RUNYARD_HOME to a writable folder. "
                f"{DEBUG_HINT}"
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def layout_for(workspace: str | None) -> tuple[WorkspaceLayout, Settings]:
    """The layout of ``--workspace``, or of the workspace config.json names; no store is
    opened (`runyard workspace check` must work on a database the store refuses)."""
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
    return _ws.layout_for(settings, workspace), settings


def services_for(workspace: str | None) -> Services:
    """The services of ``--workspace``, or of the workspace config.json names."""
    return open_services(*layout_for(workspace))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    shown = Table(title=title)
    for col in columns:
        shown.add_column(col)
    for row in rows:
        shown.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(shown)
