"""Runs on the session's Ray cluster (a head with no CPUs, two 1-CPU workers, in a network
namespace with only lo): the same v1 code as on a local cluster, with RUNYARD_RAY_ADDRESS
set. The agent is started from inside the namespace (the test body runs there), so it and
everything it starts are Ray drivers of that cluster."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from conftest import import_ray

from runyard.core import Experiment, ScriptRunConfig
from runyard.core.compute import AmlCompute, ComputeTarget

import_ray()

SCRIPT = """
import os, sys
from azureml.core import Run
run = Run.get_context()
for i in range(20):
    print(f"line {i}", flush=True)
    run.log("loss", 1.0 / (i + 1))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights")
print("node", os.environ.get("RAY_NODE_ID", "?"), "cwd", os.getcwd(), flush=True)
"""


def _cluster(ws, name: str = "ray-cpu", max_nodes: int = 2, vm_size: str = "STANDARD_D2_V2"):
    config = AmlCompute.provisioning_configuration(vm_size=vm_size, max_nodes=max_nodes)
    cluster = ComputeTarget.create(ws, name, config)
    cluster.wait_for_completion()
    return cluster


def test_a_script_run_on_ray_streams_logs_metrics_and_outputs(
    on_ray, ws, services, source, capsys, driver_log
) -> None:
    cluster = _cluster(ws)
    config = ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py", compute_target=cluster)
    run = Experiment(ws, "on-ray").submit(config)
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed", driver_log(services, run.id)
    shown = capsys.readouterr().out
    lines = [line for line in shown.splitlines() if line.startswith("line ")]
    assert lines == [f"line {i}" for i in range(20)]  # streamed once each, in order
    assert run.get_metrics()["loss"] == [1.0 / (i + 1) for i in range(20)]
    run.download_file("outputs/model.txt", output_file_path=str(services.layout.root / "m.txt"))
    assert (services.layout.root / "m.txt").read_text() == "weights"
    log = driver_log(services, run.id)
    assert "runs on Ray node" in log
    assert "cwd /tmp/runyard-ray/" in log  # the node's own copy, not the agent's


SLOW = """
import sys, time
from azureml.core import Run
run = Run.get_context()
for i in range(int(sys.argv[1])):
    run.log("step", i)
    print(f"step {i}", flush=True)
    time.sleep(0.1)
"""


def _node_log(run_id: str) -> str:
    """The driver log as the run's node writes it (this machine hosts the Ray nodes)."""
    found = list(
        Path(tempfile.gettempdir()).glob(f"runyard-ray/*/jobs/{run_id}-0/70_driver_log.txt")
    )
    return found[0].read_text() if found else ""


def _node_job_pids(run_id: str) -> list[int]:
    """Processes of the run's job on the Ray nodes: their working directory is the job's copy."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if f"/jobs/{run_id}-" in cwd:
                found.append(int(entry.name))
    return found


def test_a_killed_agent_leaves_the_run_running_and_the_next_one_finishes_it(
    on_ray, ws, services, source, wait_until, driver_log
) -> None:
    from runyard._services.agent_client import agent_pid, ensure_agent

    cluster = _cluster(ws, "ray-kill")
    config = ScriptRunConfig(
        source(**{"slow.py": SLOW}), "slow.py", arguments=["60"], compute_target=cluster
    )
    run = Experiment(ws, "on-ray").submit(config)
    wait_until(lambda: len(run.get_metrics().get("step", [])) >= 5, timeout=120,
               what="the run logging")  # fmt: skip
    pid = agent_pid(services.layout)
    assert pid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: agent_pid(services.layout) is None, what="the agent gone")
    steps_then = _node_log(run.id).count("step ")
    wait_until(lambda: _node_log(run.id).count("step ") > steps_then + 3, timeout=60,
               what="the job going on without its agent")  # fmt: skip
    ensure_agent(services.layout, services.settings)
    details = run.wait_for_completion()
    assert details["status"] == "Completed", driver_log(services, run.id)
    assert run.get_metrics()["step"] == list(range(60))  # none lost, none twice
    log = driver_log(services, run.id)
    steps = [line for line in log.splitlines() if line.startswith("step ")]
    assert steps == [f"step {i}" for i in range(60)]
    assert "follows the run on" in log


def test_cancel_while_running_and_while_queued_leaves_no_process(
    on_ray, ws, services, source, wait_until
) -> None:
    # max_nodes=1: the second run waits Queued behind the first.
    cluster = _cluster(ws, "ray-cancel", max_nodes=1)
    folder = source(**{"slow.py": SLOW})
    exp = Experiment(ws, "on-ray")
    first = exp.submit(
        ScriptRunConfig(folder, "slow.py", arguments=["600"], compute_target=cluster)
    )
    second = exp.submit(ScriptRunConfig(folder, "slow.py", arguments=["5"], compute_target=cluster))
    wait_until(lambda: first.get_metrics().get("step"), timeout=120, what="the first running")
    assert second.get_status() == "Queued"
    assert "waiting" in second.get_detailed_status()["details"]
    second.cancel()
    first.cancel()
    assert first.wait_for_completion()["status"] == "Canceled"
    assert second.wait_for_completion()["status"] == "Canceled"
    wait_until(lambda: not _node_job_pids(first.id), timeout=30, what="no process of the run left")
    assert first.get_metrics()["step"]  # what it logged is kept


def _kill_node_of(ray_cluster, run, wait_until) -> str:
    """SIGKILLs the worker node the run runs on (raylet, workers, the job) as a lost
    machine, once the run has logged; returns its Ray node id."""
    wait_until(lambda: len(run.get_metrics().get("step", [])) >= 3, timeout=120,
               what="the run logging")  # fmt: skip
    node = run.get_details()["placement"][0]["rayNodeId"]
    victim = next(w for w in ray_cluster.workers if w.alive and w.node_id == node)
    return ray_cluster.kill_worker(victim.index)


def test_a_lost_node_retries_the_run_elsewhere_then_fails_naming_the_node(
    on_ray, ws, services, source, wait_until, driver_log
) -> None:
    cluster = _cluster(ws, "ray-lost")
    folder = source(**{"slow.py": SLOW})
    exp = Experiment(ws, "lost")
    run = exp.submit(ScriptRunConfig(folder, "slow.py", arguments=["30"], compute_target=cluster))
    try:
        lost = _kill_node_of(on_ray, run, wait_until)
        details = run.wait_for_completion()
    finally:
        on_ray.add_worker({"num_cpus": 1})  # the next tests find two workers again
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    (attempt,) = details["attempts"]
    assert attempt["status"] == "NodeLost" and lost in attempt["reason"]
    assert attempt["nodes"][0]["rayNodeId"] == lost
    assert details["placement"][0]["rayNodeId"] != lost  # the retry ran on another node
    assert "tried again on another node (retry 1 of max_retries=1)" in log
    steps = run.get_metrics()["step"]
    assert steps[-30:] == list(range(30))  # the retry ran to its end
    # What the lost node's script had logged came back, but for its last moments: the node
    # is pulled every 0.5 s (at most ~1 s of metrics lost; 2 s allowed on a loaded machine).
    printed = _node_log(run.id).count("step ")  # the first try's log, left on its node
    kept = len(steps) - 30
    assert 0 < kept <= printed + 1 and printed - kept <= 20, (printed, kept)

    # max_retries=0: the run ends Failed, its error naming the lost node; never stuck.
    config = ScriptRunConfig(folder, "slow.py", arguments=["600"], compute_target=cluster)
    config.run_config.max_retries = 0
    once = exp.submit(config)
    try:
        lost = _kill_node_of(on_ray, once, wait_until)
        details = once.wait_for_completion(raise_on_error=False)
    finally:
        on_ray.add_worker({"num_cpus": 1})
    assert details["status"] == "Failed"
    error = details["error"]["error"]
    assert error["code"] == "NodeLost" and f"Ray node {lost}" in error["message"]
    assert "max_retries=0" in error["message"] and len(details["attempts"]) == 1
    assert f"ray status --address {on_ray.address}" in error["message"]


CHANNEL = """
import json, os
from azureml.core import Run
run = Run.get_context()
run.log("acc", 0.5)
run.tag("stage", "ray")
with open("note.txt", "w") as f:
    f.write("hello from the node")
run.upload_file("uploaded/note.txt", "note.txt")
print("files", sorted(run.get_file_names()), flush=True)
child = run.child_run(name="child")
child.log("c", 1)
child.complete()
print("children", len(list(run.get_children())), flush=True)
print("acc read back", run.get_metrics()["acc"], flush=True)
run.register_model("note-model", model_path="uploaded/note.txt")
agent_dir = os.path.join(os.environ["RUNYARD_WORKSPACE_DIR"], "agent")
agent_port = json.load(open(os.path.join(agent_dir, "channel.json")))["port"]
port = int(os.environ["RUNYARD_CHANNEL"].rpartition(":")[2])
print("through the node's channel", port != agent_port, os.environ["RUNYARD_ARTIFACTS"],
      flush=True)
"""


def test_a_ray_job_reaches_its_workspace_through_ray_not_its_files(
    on_ray, ws, services, source, driver_log
) -> None:
    """Store requests and artifact files of Run.get_context() go from the node's own
    loopback channel through the workspace's relay actor to the agent (so a node on another
    machine is served the same); here the test can see both ends."""
    from runyard.core import Model

    cluster = _cluster(ws, "ray-chan")
    run = Experiment(ws, "chan").submit(
        ScriptRunConfig(source(**{"chan.py": CHANNEL}), "chan.py", compute_target=cluster)
    )
    details = run.wait_for_completion()
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "through the node's channel True channel" in log
    assert "uploaded/note.txt" in log and "children 1" in log
    assert "acc read back 0.5" in log
    run.download_file("uploaded/note.txt", output_file_path=str(services.layout.root / "n"))
    assert (services.layout.root / "n").read_text() == "hello from the node"
    assert run.get_tags()["stage"] == "ray"
    (child,) = list(run.get_children())
    assert child.get_metrics()["c"] == 1
    assert Model(ws, "note-model").run_id == run.id
