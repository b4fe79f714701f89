"""A submitted run does not depend on the Python that submitted it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from runyard._entities import RunStatus

DRIVER = textwrap.dedent(
    """
    import sys
    from runyard.core import Experiment, ScriptRunConfig, Workspace

    ws = Workspace.get("test-ws")
    run = Experiment(ws, "detached").submit(ScriptRunConfig(sys.argv[1], "train.py"))
    print(run.id, flush=True)
    # The driver exits at once, without waiting for the run.
    """
)
SCRIPT = (
    "import os, time\n"
    "time.sleep(1.5)\n"
    "os.makedirs('outputs', exist_ok=True)\n"
    "open('outputs/done.txt', 'w').write('done')\n"
    "print('finished after the driver exited')\n"
)


def test_run_completes_after_the_submitting_python_exits(ws, services, source, wait) -> None:
    src = source(**{"train.py": SCRIPT})
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, str(src)], capture_output=True, text=True, timeout=60
    )
    assert driver.returncode == 0, driver.stderr
    run_id = driver.stdout.strip().splitlines()[-1]
    # The driver is gone; the run was still going when it left.
    assert services.store.get_run(run_id).status in (
        RunStatus.QUEUED, RunStatus.PREPARING, RunStatus.STARTING, RunStatus.RUNNING,
    )  # fmt: skip
    info = wait(services, run_id)
    assert info.status is RunStatus.COMPLETED
    assert services.artifacts.read_bytes(f"runs/{run_id}/outputs/done.txt") == b"done"
