"""Settings, read once from RUNYARD_* variables, and the on-disk layout of a workspace.

Light on purpose: job processes import it. Code deeper in the stack takes a Settings or a
WorkspaceLayout as an argument and never reads os.environ itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runyard.exceptions import UserErrorException

DEFAULT_SNAPSHOT_MAX_BYTES = 300 * 1024 * 1024  # v1's limit (300 MB)
DEFAULT_SNAPSHOT_MAX_FILES = 2000  # v1's limit


def _int_env(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserErrorException(
            f"Environment variable {name}={raw!r} is not an integer; set it to a whole "
            f"number (default {default}) or unset it."
        ) from None
    if value <= 0:
        raise UserErrorException(f"Environment variable {name}={raw!r} must be positive.")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    snapshot_max_bytes: int = DEFAULT_SNAPSHOT_MAX_BYTES
    snapshot_max_files: int = DEFAULT_SNAPSHOT_MAX_FILES
    # How many runs the local target runs at once; the rest wait Queued.
    local_max_concurrent_runs: int = max(2, os.cpu_count() or 2)
    # Overrides the workspace's own SQLite database (e.g. postgresql://127.0.0.1/test).
    store_uri: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("RUNYARD_HOME") or Path.home() / ".runyard").expanduser()
        return cls(
            home=home.resolve(),
            # v1 users know SNAPSHOT_MAX_SIZE_BYTES; the RUNYARD_ name wins when both are set.
            snapshot_max_bytes=_int_env(
                env,
                "RUNYARD_SNAPSHOT_MAX_SIZE_BYTES",
                _int_env(env, "AZUREML_SNAPSHOT_MAX_SIZE_BYTES", DEFAULT_SNAPSHOT_MAX_BYTES),
            ),
            snapshot_max_files=_int_env(
                env, "RUNYARD_SNAPSHOT_MAX_FILES", DEFAULT_SNAPSHOT_MAX_FILES
            ),
            local_max_concurrent_runs=_int_env(
                env, "RUNYARD_LOCAL_MAX_CONCURRENT_RUNS", max(2, os.cpu_count() or 2)
            ),
            store_uri=env.get("RUNYARD_STORE_URI") or None,
        )

    def workspace_root(self, name: str) -> Path:
        return self.home / "workspaces" / name


@dataclass(frozen=True, slots=True)
class WorkspaceLayout:
    """Where one embedded workspace keeps things. Everything lives under ``root``."""

    root: Path

    @property
    def workspace_json(self) -> Path:
        """Identity: name, subscription_id, resource_group, location, id, created_time."""
        return self.root / "workspace.json"

    @property
    def db_path(self) -> Path:
        return self.root / "runyard.db"

    @property
    def artifacts_dir(self) -> Path:
        """Root of the folder artifact store (runs/, models/ ...)."""
        return self.root / "artifacts"

    @property
    def snapshots_dir(self) -> Path:
        """Content-addressed snapshot blobs and manifests."""
        return self.root / "snapshots"

    @property
    def jobs_dir(self) -> Path:
        """Per-run working copies and metric spools: jobs/<run_id>/."""
        return self.root / "jobs"

    @property
    def agent_dir(self) -> Path:
        """agent.lock (held while the agent lives), agent.wake (FIFO), agent.log."""
        return self.root / "agent"

    def store_uri(self, settings: Settings | None = None) -> str:
        if settings is not None and settings.store_uri:
            return settings.store_uri
        return f"sqlite:///{self.db_path}"
