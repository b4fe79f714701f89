"""No run is left active when supervising it fails: here the disk holding the workspace
fills up while a run's metrics are ingested (a small tmpfs in a private mount namespace)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runyard
from tests.conftest import skip_without_private_mounts

pytestmark = pytest.mark.timeout(180)

# Runs inside the namespace, with the workspace on the tmpfs at argv[1].
SCENARIO = textwrap.dedent(
    """
    import io, json, os, sys, time
    from pathlib import Path
    root = Path(sys.argv[1])
    os.environ["RUNYARD_HOME"] = str(root / "home")
    from runyard._config import Settings, WorkspaceLayout
    from runyard._services import open_services, runs
    from runyard._services.jobs import submit_script_run
    from runyard._services.agent_client import stop_agent

    settings = Settings.from_env()
    layout = WorkspaceLayout(root / "ws")
    layout.root.mkdir(parents=True)
    services = open_services(layout, settings)
    src = Path(sys.argv[2])
    info = submit_script_run(services, experiment_name="exp", source_directory=src,
                             script="train.py", arguments=[str(root / "filler")])
    pending = layout.jobs_dir / info.run_id / "pending_error.json"
    deadline = time.monotonic() + 120
    seen_pending = False
    while True:
        current = services.store.get_run(info.run_id)
        if current.status.is_terminal():
            break
        if pending.exists() and not seen_pending:
            seen_pending = True
            (root / "filler").unlink()  # space again: the agent must now end the run
        assert time.monotonic() < deadline, f"run still {current.status}"
        time.sleep(0.05)
    done = runs.get_run(services, info.run_id)
    print(json.dumps({"status": done.status.value, "code": str(done.error.code),
                      "message": done.error.message, "pending_seen": seen_pending}))
    stop_agent(layout)
    """
)

# Fills the disk (leaving the spool room for its records), then logs: the supervisor's
# ingest into SQLite finds no space.
JOB = textwrap.dedent(
    """
    import sys, time
    from runyard.core.run import Run
    run = Run.get_context()
    run.log("before", 1)
    time.sleep(0.6)  # let the first ingest happen while there is space
    with open(sys.argv[1], "wb") as f:
        try:
            while True:
                f.write(b"x" * 65536)
                f.flush()
        except OSError:
            pass
    for i in range(2000):
        try:
            run.log("after", i)
        except Exception:
            break
    time.sleep(30)
    """
)


def test_a_full_disk_during_ingest_ends_the_run_failed_naming_the_cause(tmp_path) -> None:
    skip_without_private_mounts()
    disk, src = tmp_path / "disk", tmp_path / "src"
    disk.mkdir()
    src.mkdir()
    (src / "train.py").write_text(JOB)
    (tmp_path / "scenario.py").write_text(SCENARIO)
    repo = str(Path(runyard.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": repo, "RUNYARD_AGENT_IDLE_SECONDS": "30"}
    cmd = (
        f"mount --make-rprivate / && mount -t tmpfs -o size=6m tmpfs {disk} && "
        f"exec {sys.executable} {tmp_path / 'scenario.py'} {disk} {src}"
    )
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, env=env, timeout=170
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "Failed", result
    assert result["pending_seen"], result  # the store was full too: the error waited
    # The cause is named: the store's DiskFull, with the database's path and the free space.
    assert result["code"] == "DiskFull", result
    assert "The disk is full" in result["message"], result
    assert "runyard.db" in result["message"] and "free of" in result["message"], result
