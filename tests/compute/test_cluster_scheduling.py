"""Runs on a local cluster: scale-up as work queues, Queued beyond capacity, scale-down."""

from __future__ import annotations

import re
import time

from runyard._entities import RunStatus
from runyard.core import Experiment, ScriptRunConfig
from runyard.core.compute import AmlCompute, ComputeTarget

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
    ws, services, source, tmp_path, capsys, driver_log, wait_until
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

    def two_busy_two_prepared_and_queued() -> bool:
        now = [services.store.get_run(r.id) for r in runs]
        prepared = [i for i in now if i.status is RunStatus.QUEUED and i.runtime.prepared_python]
        return [i.status for i in now].count(RunStatus.RUNNING) == 2 and len(prepared) == 2

    wait_until(two_busy_two_prepared_and_queued, 30, "two runs running, two prepared and queued")
    assert cluster.get_status().serialize()["nodeStateCounts"]["runningNodeCount"] == 2

    for run in runs:
        assert run.wait_for_completion()["status"] == "Completed"

    lines = timeline.read_text().splitlines()
    assert len(lines) == 8
    assert _max_overlap(lines) == 2
    logs = [driver_log(services, r.id) for r in runs]
    # Environments are prepared two at a time, and a prepared run takes a node as soon as
    # one is free or can be added, so which two runs grew the cluster depends on timing.
    # Exactly two did, 0 -> 1 and 1 -> 2; the other two reused those nodes.
    resizes = sorted(
        line.split("resizing from ")[1] for log in logs for line in log.splitlines()
        if "resizing from" in line
    )  # fmt: skip
    assert resizes == ["0 to 1 node(s)", "1 to 2 node(s)"]
    assert sum("Scaling:" in log for log in logs) == 2  # two runs grew it, one node each
    scaler = next(r for r, log in zip(runs, logs, strict=True) if "Scaling:" in log)
    capsys.readouterr()
    scaler.wait_for_completion(show_output=True)
    shown = capsys.readouterr().out
    assert re.search(
        r"^\[Scaling\] Scaling: cluster gpu-cluster is resizing from (0 to 1|1 to 2) node\(s\)$",
        shown,
        re.M,
    ), shown
    phases = [line.split("]")[0] + "]" for line in shown.splitlines() if line.startswith("[")]
    # v1's order: the environment is prepared, then the run waits Queued for a node.
    assert phases == [
        "[Queued]",
        "[Preparing]",
        "[Queued]",
        "[Scaling]",
        "[Starting]",
        "[Running]",
        "[Finalizing]",
    ]
    assert "[Queued] Queued: waiting for a node of cluster gpu-cluster" in shown
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


def _one_node_cluster(ws, name: str = "one-node") -> ComputeTarget:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=1)
    cluster = ComputeTarget.create(ws, name, config)
    cluster.wait_for_completion()
    return cluster


def test_cluster_run_is_prepared_before_its_cluster_scales(
    job_uv_cache, ws, services, source, capsys, six_env
) -> None:
    cluster = _one_node_cluster(ws)
    src = source(**{"train.py": "print('script ran', flush=True)\n"})
    config = ScriptRunConfig(src, "train.py", environment=six_env(), compute_target=cluster)
    run = Experiment(ws, "order").submit(config)
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    shown = capsys.readouterr().out
    preparing = shown.index("[Preparing]")
    built = shown.index("Building environment")
    waiting = shown.index("[Queued] Queued: waiting for a node of cluster one-node")
    scaling = shown.index("[Scaling] Scaling: cluster one-node is resizing from 0 to 1 node(s)")
    running = shown.index("[Running]")
    assert preparing < built < waiting < scaling < running < shown.index("script ran")
    assert shown.count("Building environment") == 1  # the build log is printed once


def test_two_runs_on_one_node_build_once_and_the_second_waits_prepared(
    job_uv_cache, ws, services, source, build_log, six_env, wait_until
) -> None:
    cluster = _one_node_cluster(ws)
    src = source(**{"train.py": "import time\nprint('busy', flush=True)\ntime.sleep(3)\n"})
    exp = Experiment(ws, "one-node")
    config = ScriptRunConfig(src, "train.py", environment=six_env("shared"), compute_target=cluster)
    first, second = exp.submit(config), exp.submit(config)

    def second_prepared_while_first_runs() -> bool:
        info = services.store.get_run(second.id)
        waits = info.status is RunStatus.QUEUED and bool(info.runtime.prepared_python)
        return waits and services.store.get_run(first.id).status is RunStatus.RUNNING

    wait_until(second_prepared_while_first_runs, 120, "the second run prepared and queued")
    assert services.store.get_run(second.id).start_time is None
    assert first.wait_for_completion()["status"] == "Completed"
    assert second.wait_for_completion()["status"] == "Completed"
    logs = [build_log(services, r.id) for r in (first, second)]
    assert "Building environment" in logs[0] and "reusing it" in logs[1]
    assert "Building environment" not in logs[1]
    assert services.store.get_run(second.id).start_time > services.store.get_run(first.id).end_time


def test_cancel_while_waiting_for_a_node_leaves_no_node_busy(
    ws, services, source, wait_until
) -> None:
    cluster = _one_node_cluster(ws, "cancel-node")
    src = source(**{"train.py": "import time\nprint('busy', flush=True)\ntime.sleep(60)\n"})
    exp = Experiment(ws, "cancel")
    config = ScriptRunConfig(src, "train.py", compute_target=cluster)
    first, second = exp.submit(config), exp.submit(config)

    def second_waits_for_the_node() -> bool:
        info = services.store.get_run(second.id)
        return info.status is RunStatus.QUEUED and bool(info.runtime.prepared_python)

    wait_until(lambda: services.store.get_run(first.id).status is RunStatus.RUNNING, 30)
    wait_until(second_waits_for_the_node, 30, "the second run waiting Queued after Preparing")
    second.cancel()
    assert second.wait_for_completion()["status"] == "Canceled"
    nodes = cluster.list_nodes()
    assert [n["runId"] for n in nodes if n["nodeState"] == "running"] == [first.id]
    first.cancel()
    assert first.wait_for_completion()["status"] == "Canceled"

    def no_node_busy() -> bool:
        counts = cluster.get_status().serialize()["nodeStateCounts"]
        return counts["runningNodeCount"] == 0 and counts["idleNodeCount"] == 1

    wait_until(no_node_busy, 30, "the node to be idle again")
    assert all(n["runId"] is None for n in cluster.list_nodes())
