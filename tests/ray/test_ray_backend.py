"""Runs on the session's Ray cluster (a head with no CPUs, two 1-CPU workers, in a network
namespace with only lo): the same v1 code as on a local cluster, with RUNYARD_RAY_ADDRESS
set. The agent is started from inside the namespace (the test body runs there), so it and
everything it starts are Ray drivers of that cluster."""

from __future__ import annotations

import pytest
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


@pytest.fixture
def on_ray(ray_cluster, in_cluster, monkeypatch):
    monkeypatch.setenv("RUNYARD_RAY_ADDRESS", ray_cluster.address)
    return ray_cluster


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
