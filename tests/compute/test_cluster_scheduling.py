"""Runs on a local cluster: scale-up as work queues, Queued beyond capacity, scale-down."""

from __future__ import annotations

import time

from runyard._entities import RunStatus
from runyard.core import Experiment, ScriptRunConfig
from runyard.core.compute import AmlCompute, ComputeTarget
from tests.runtime.conftest import driver_log, wait_until

SCRIPT = """
import sys, time
log = sys.argv[1]
with open(log, "a") as f:
    f.write(f"start {sys.argv[2]} {time.time()}\\n")
time.sleep(1.5)
with open(log, "a") as f:
    f.write(f"end {sys.argv[2]} {time.time()}\\n")
"""


def _max_overlap(lines: list[str]) -> int:
    events = sorted(
        (float(t), 1 if kind == "start" else -1) for kind, _, t in map(str.split, lines)
    )
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_four_runs_on_two_nodes_queue_scale_up_and_down(
    ws, services, source, tmp_path, capsys
) -> None:
    config = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_NC6", max_nodes=2, idle_seconds_before_scaledown=2
    )
    cluster = ComputeTarget.create(ws, "gpu-cluster", config)
    cluster.wait_for_completion()
    assert cluster.get_status().current_node_count == 0
    src = source(**{"train.py": SCRIPT})
    timeline = tmp_path / "timeline.txt"
    exp = Experiment(ws, "scaling")
    runs = [
        exp.submit(
            ScriptRunConfig(src, "train.py", arguments=[str(timeline), i], compute_target=cluster)
        )
        for i in range(4)
    ]

    def statuses() -> list[RunStatus]:
        return [services.store.get_run(r.id).status for r in runs]

    def two_busy_two_queued() -> bool:
        now = statuses()
        return now.count(RunStatus.RUNNING) == 2 and now.count(RunStatus.QUEUED) == 2

    wait_until(two_busy_two_queued, 30, "two runs running and two queued")
    assert cluster.get_status().serialize()["nodeStateCounts"]["runningNodeCount"] == 2

    runs[0].wait_for_completion(show_output=True)
    shown = capsys.readouterr().out
    assert "[Scaling] Scaling: cluster gpu-cluster is resizing from 0 to 1 node(s)" in shown
    phases = [line.split("]")[0] + "]" for line in shown.splitlines() if line.startswith("[")]
    assert phases == [
        "[Queued]",
        "[Scaling]",
        "[Preparing]",
        "[Starting]",
        "[Running]",
        "[Finalizing]",
    ]
    for run in runs:
        assert run.wait_for_completion()["status"] == "Completed"

    lines = timeline.read_text().splitlines()
    assert len(lines) == 8
    assert _max_overlap(lines) == 2
    logs = [driver_log(services, r.id) for r in runs]
    assert "resizing from 0 to 1 node(s)" in logs[0]
    assert "resizing from 1 to 2 node(s)" in logs[1]
    assert not any("Scaling:" in log for log in logs[2:])  # they reused the two nodes
    assert all(
        "STANDARD_NC6 has 1 GPU(s) but this machine has none: the job runs on the CPU" in log
        for log in logs
    )

    def scaled_down() -> bool:
        return cluster.get_status().current_node_count == 0

    started = time.monotonic()
    wait_until(scaled_down, 30, "the cluster to scale down to 0 nodes")
    assert time.monotonic() - started < 15
    assert cluster.get_status().allocation_state == "Steady"
