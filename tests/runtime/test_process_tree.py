"""Every process a job started ends with the run: on cancel, on max_run_duration_seconds
and when the script fails, detached descendants that ignore SIGTERM included."""

from __future__ import annotations

import pytest

from runyard._entities import RunStatus
from runyard._services.jobs import cancel_run

pytestmark = pytest.mark.timeout(120)

# Starts a grandchild in a session of its own that ignores SIGTERM, then `tail`s.
JOB = """
import os, subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "open('ignoring', 'w').close(); time.sleep(300)"],
    start_new_session=True,
)
while not os.path.exists("ignoring"):
    time.sleep(0.01)
print("GRANDCHILD", child.pid, flush=True)
{tail}
"""


def _grandchild(services, run_id: str) -> int:
    path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/70_driver_log.txt")
    for line in path.read_text().splitlines():
        if line.startswith("GRANDCHILD "):
            return int(line.split()[1])
    raise AssertionError("no GRANDCHILD line in the driver log")


@pytest.mark.parametrize(
    ("tail", "how", "final"),
    [
        ("time.sleep(300)", "cancel", RunStatus.CANCELED),
        ("time.sleep(300)", "timeout", RunStatus.CANCELED),
        ("sys.exit(3)", "failure", RunStatus.FAILED),
    ],
    ids=["cancel", "max-duration", "failure"],
)
def test_no_process_of_the_job_outlives_the_run(
    services, source, submit, wait, wait_for_marker, wait_until, pid_alive, tail, how, final
) -> None:
    definition = {"maxRunDurationSeconds": 3} if how == "timeout" else None
    info = submit(services, source(**{"train.py": JOB.format(tail=tail)}), definition=definition)
    wait_for_marker(services, info.run_id, "GRANDCHILD")
    grandchild = _grandchild(services, info.run_id)
    if how == "cancel":
        cancel_run(services, info.run_id)
    done = wait(services, info.run_id)
    assert done.status is final, done.error
    wait_until(lambda: not pid_alive(grandchild), 15, "the detached grandchild to end")
