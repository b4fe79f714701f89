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

# Everything under RUNYARD_HOME is private to its user: the store holds runs' environment
# variables (often secrets), and the logs what jobs print.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# What the agent daemon runs under, so whatever it (SQLite, uv, shutil) creates is private.
PRIVATE_UMASK = 0o077
_user_umask: int | None = None


def make_private_dir(path: Path, *, tighten_from: Path | None = None) -> Path:
    """``mkdir -p path`` whose new folders are 0700 whatever the umask (mkdir honours it).

    Existing folders from ``tighten_from`` down to ``path`` (Runyard's own: the home, the
    workspace) lose group and other access, so an older, looser home is closed too.
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made at the same moment by another Runyard process, also private
        os.chmod(folder, PRIVATE_DIR_MODE)
    chain = [path, *path.parents]
    if tighten_from is not None and Path(tighten_from) in chain:
        for folder in chain[: chain.index(Path(tighten_from)) + 1]:
            make_private(folder)
    return path


def make_private(path: Path) -> None:
    """Takes group and other access away from a file or folder of ours that has any."""
    st = os.stat(path)
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        os.chmod(path, st.st_mode & 0o700)


def private_opener(path: str, flags: int) -> int:
    """``open(path, mode, opener=private_opener)``: a file it creates is 0600."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def use_private_umask() -> None:
    """The agent daemon's first step: what it creates is 0600/0700 (SDK processes never
    change their umask; they create with explicit modes). Remembers the user's umask."""
    global _user_umask
    previous = os.umask(PRIVATE_UMASK)
    if _user_umask is None:
        _user_umask = previous


def user_umask() -> int:
    """The umask this process had before ``use_private_umask`` (-1: it never changed, which
    is ``subprocess.Popen``'s "leave it"). Jobs get it back: their own files are the user's."""
    return -1 if _user_umask is None else _user_umask


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
    # The address deployed web services listen on; 0.0.0.0 (or a LAN address) opens them to
    # other machines. Read when a service is deployed, then kept with it.
    serving_host: str = "127.0.0.1"
    # The largest request body a service takes (a bigger one gets 413).
    serving_max_body_bytes: int = 100 * 1024 * 1024

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
            serving_host=env.get("RUNYARD_SERVING_HOST") or "127.0.0.1",
            serving_max_body_bytes=_int_env(
                env, "RUNYARD_SERVICE_MAX_BODY_BYTES", 100 * 1024 * 1024
            ),
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

    @property
    def services_dir(self) -> Path:
        """Deployed web services: services/<name>/ (spec, status, keys, logs, models, app)."""
        return self.root / "services"

    @property
    def secrets_dir(self) -> Path:
        """The workspace's secrets (Keyvault), one 0600 file each, apart from run records."""
        return self.root / "secrets"

    def store_uri(self, settings: Settings | None = None) -> str:
        if settings is not None and settings.store_uri:
            return settings.store_uri
        return f"sqlite:///{self.db_path}"
