"""Private by default: under the usual umask (022) everything Runyard makes under
RUNYARD_HOME is 0600/0700, a job gets the user's umask back, and a secret a job reads with
run.get_secret reaches neither the driver log, the run's details nor the store."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from runyard.core import Workspace

SECRET = "hunter2-never-printed"

JOB = """\
import hashlib, os
from azureml.core import Run

run = Run.get_context()
value = run.get_secret("db-password")
print("secret sha256", hashlib.sha256(value.encode()).hexdigest())
print("missing is", run.get_secrets(["db-password", "not-set"])["not-set"])
print("job umask", oct(os.umask(0o022)))
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("model")
"""

DRIVER = """\
import json, os, sys
os.umask(0o022)
from runyard.core import Environment, Experiment, ScriptRunConfig, Workspace
from runyard.core.conda_dependencies import CondaDependencies

ws = Workspace.create("private-ws", show_output=False)
ws.get_default_keyvault().set_secret("db-password", sys.argv[2])
env = Environment("six-env")
env.python.conda_dependencies = CondaDependencies.create(
    pip_packages=["six"], python_version="3.11"
)
run = Experiment(ws, "exp").submit(ScriptRunConfig(sys.argv[1], "train.py", environment=env))
run.wait_for_completion()
print(json.dumps({"status": run.get_status(), "details": run.get_details()}, default=str))
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _loose(home: Path) -> list[str]:
    """Every file or folder under home that group or others may use (symlinks aside, and
    the insides of built envs: packages hard-linked from uv's cache, behind a 0700 folder,
    whose modes are the cache's own)."""
    found = []
    for path in [home, *home.rglob("*")]:
        inside_env = (
            path.relative_to(home).parts[:1] == ("envs",) and len(path.relative_to(home).parts) > 2
        )
        if not inside_env and not path.is_symlink() and _mode(path) & 0o077:
            found.append(f"{oct(_mode(path))} {path.relative_to(home)}")
    return found


def test_umask_022_run_leaves_everything_private_and_the_secret_unseen(
    runyard_home, job_uv_cache, source, driver_log, build_log
):
    src = source(**{"train.py": JOB})
    out = subprocess.run(
        [sys.executable, "-c", DRIVER, str(src), SECRET],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "RUNYARD_AGENT_IDLE_SECONDS": "120"},
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "Completed", result
    root = runyard_home / "workspaces" / "private-ws"
    run_dir = next((root / "artifacts" / "runs").iterdir())
    named = {
        "home": runyard_home,
        "workspace": root,
        "runyard.db": root / "runyard.db",
        "runyard.db-wal": root / "runyard.db-wal",  # the agent still holds the store open
        "runyard.db-shm": root / "runyard.db-shm",
        "agent.log": root / "agent" / "agent.log",
        "driver log": run_dir / "azureml-logs" / "70_driver_log.txt",
        "build log": run_dir / "azureml-logs" / "20_image_build_log.txt",
        "output": run_dir / "outputs" / "model.txt",
        "snapshot blob": next((root / "snapshots" / "blobs").iterdir()),
        "secrets": root / "secrets",
        "envs": runyard_home / "envs",
        "built env": next(p for p in (runyard_home / "envs").iterdir() if p.is_dir()),
    }
    modes = {what: oct(_mode(path)) for what, path in named.items()}
    folders = {"home", "workspace", "secrets", "envs", "built env"}
    assert modes == {w: "0o700" if w in folders else "0o600" for w in named}
    assert _loose(runyard_home) == []

    services = Workspace.get("private-ws")._services
    log = driver_log(services, result["details"]["runId"])
    assert f"secret sha256 {hashlib.sha256(SECRET.encode()).hexdigest()}" in log
    assert "missing is None" in log
    assert "job umask 0o22" in log  # the job's own files follow the user's umask
    for text in (log, build_log(services, result["details"]["runId"]), out.stdout):
        assert SECRET not in text
    assert SECRET not in named["agent.log"].read_text()
    for db_file in ("runyard.db", "runyard.db-wal"):
        assert SECRET.encode() not in named[db_file].read_bytes()


def test_a_loose_home_and_workspace_from_before_are_tightened(runyard_home):
    old = runyard_home / "workspaces" / "old-ws"
    old.mkdir(parents=True)
    for folder in (runyard_home, runyard_home / "workspaces", old):
        os.chmod(folder, 0o755)
    Workspace.create("old-ws", show_output=False)
    modes = [_mode(p) for p in (runyard_home, runyard_home / "workspaces", old)]
    assert modes == [0o700, 0o700, 0o700]
    assert _loose(runyard_home) == []


def test_a_loose_database_from_before_is_tightened(ws):
    db = ws._layout.db_path
    script = textwrap.dedent(
        """
        import sys
        from runyard.core import Workspace
        Workspace.get(sys.argv[1])._services
        """
    )
    subprocess.run([sys.executable, "-c", script, "test-ws"], check=True)
    os.chmod(db, 0o644)
    subprocess.run([sys.executable, "-c", script, "test-ws"], check=True)
    assert _mode(db) == 0o600
