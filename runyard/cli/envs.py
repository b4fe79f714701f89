"""`runyard envs ...`: the cache of built environments."""

from __future__ import annotations

from datetime import datetime, timezone

import typer

from runyard._config import Settings
from runyard._envs import list_envs, prune
from runyard._services.env_cache import environments_in_use
from runyard.cli._common import JsonOpt, console, errors, print_json, table

app = typer.Typer(help="List and prune the cache of built environments.")


@app.command("list")
@errors
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
        print_json(rows)
        return
    for row in rows:
        row["hash"] = row["hash"][:12]
        row["requirements"] = " ".join(row["requirements"])
    table(f"Environments in {settings.home / 'envs'}", rows, ["hash", "python", "requirements",
           "last_used", "build_seconds"])  # fmt: skip


@app.command("prune")
@errors
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
