"""The SDK and CLI of Ray targets on the session's cluster: an attached RayCompute (v1's
attach / wait / status / list_nodes / detach shape), the workspace's Ray address set by
`runyard workspace configure`, an address that does not answer, and GPU sizes on CPU nodes."""

from __future__ import annotations

import json
import socket

import pytest
from conftest import import_ray
from typer.testing import CliRunner

from runyard.cli import app
from runyard.compat import hook
from runyard.core import Experiment, ScriptRunConfig
from runyard.core.compute import AmlCompute, ComputeTarget, RayCompute
from runyard.exceptions import ComputeTargetException, ComputeTargetNotFound

import_ray()
cli = CliRunner()

HELLO = """
import os
from azureml.core import Run
Run.get_context().log("answer", 42)
print("hello from", os.getcwd(), flush=True)
"""


def _cli(*args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _dead_address() -> str:
    """host:port where nothing listens (a port just freed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_an_attached_ray_cluster_lists_its_nodes_runs_a_script_and_detaches(
    ray_cluster, in_cluster, ws, services, source, driver_log
) -> None:
    hook.install()
    from azureml.core.compute import RayCompute as V1RayCompute  # the compat alias

    assert V1RayCompute is RayCompute
    config = RayCompute.attach_configuration(address=ray_cluster.address, max_nodes=2)
    target = ComputeTarget.attach(ws, "ray", config)
    assert isinstance(target, RayCompute) and target.type == "Ray"
    target.wait_for_completion(show_output=False)
    assert target.provisioning_state == "Succeeded"
    nodes = target.list_nodes()
    # One per worker; the head (--num-cpus=0) takes no work and is not a node of the target.
    assert len(nodes) == 2
    assert all(n["resources"]["CPU"] == 1.0 and n["rayNodeId"] for n in nodes)
    status = target.get_status()
    assert status.ray_address == ray_cluster.address and status.current_node_count == 2
    assert ComputeTarget(ws, "ray").address == ray_cluster.address

    run = Experiment(ws, "attached").submit(
        ScriptRunConfig(source(**{"hello.py": HELLO}), "hello.py", compute_target=target)
    )
    details = run.wait_for_completion()
    assert details["status"] == "Completed", driver_log(services, run.id)
    assert run.get_metrics()["answer"] == 42
    assert "runs on Ray node" in driver_log(services, run.id)

    shown = json.loads(_cli("compute", "show", "ray", "-w", "test-ws"))
    assert shown["type"] == "Ray" and shown["ray_address"] == ray_cluster.address
    assert len(shown["nodes"]) == 2 and shown["queue"] == []
    listed = _cli("compute", "list", "-w", "test-ws")
    assert f"Ray at {ray_cluster.address}" in listed and "Nodes of ray" in listed

    target.detach()
    assert "ray" not in ws.compute_targets
    with pytest.raises(ComputeTargetNotFound):
        ComputeTarget(ws, "ray").detach()


def test_an_address_that_does_not_answer_is_refused_naming_it_and_nothing_is_stored(
    ray_cluster, in_cluster, ws, services, source, monkeypatch
) -> None:
    dead = _dead_address()
    with pytest.raises(ComputeTargetException) as caught:
        ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=dead))
    assert dead in str(caught.value) and f"ray status --address {dead}" in str(caught.value)
    assert ws.compute_targets == {}
    with pytest.raises(ComputeTargetException, match="host:port"):
        RayCompute.attach_configuration(address="http://head:8265")

    # The workspace's AmlCompute clusters on a Ray address that does not answer: a run is
    # refused at submit, naming the address, and nothing is queued.
    cluster = ComputeTarget.create(
        ws, "cpu", AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=1)
    )
    cluster.wait_for_completion()
    monkeypatch.setenv("RUNYARD_RAY_ADDRESS", dead)
    exp = Experiment(ws, "dead")
    with pytest.raises(ComputeTargetException, match=f"ray status --address {dead}"):
        exp.submit(ScriptRunConfig(source(**{"hello.py": HELLO}), "hello.py",
                                   compute_target=cluster))  # fmt: skip
    assert list(exp.get_runs()) == []


def test_workspace_configure_sends_amlcompute_clusters_to_ray(
    ray_cluster, in_cluster, ws, services, source, driver_log, monkeypatch
) -> None:
    monkeypatch.delenv("RUNYARD_RAY_ADDRESS", raising=False)
    dead = _dead_address()
    out = _cli("workspace", "configure", "-w", "test-ws", "--ray-address", dead, code=1)
    assert f"ray status --address {dead}" in out
    out = _cli("workspace", "configure", "-w", "test-ws", "--ray-address", ray_cluster.address)
    assert ray_cluster.address in out
    stored = json.loads(services.layout.workspace_json.read_text())
    assert stored["ray_address"] == ray_cluster.address

    # v1 code as written: an NC6 (1 GPU) cluster, on Ray nodes that have no GPU.
    cluster = ComputeTarget.create(
        ws, "gpu-cluster", AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6",
                                                                 max_nodes=2),
    )  # fmt: skip
    cluster.wait_for_completion()
    run = Experiment(ws, "configured").submit(
        ScriptRunConfig(source(**{"hello.py": HELLO}), "hello.py", compute_target=cluster)
    )
    details = run.wait_for_completion()
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "runs on Ray node" in log
    assert "the Ray cluster has no GPU: the run uses the CPU" in log
    rows = json.loads(_cli("compute", "list", "-w", "test-ws", "--json"))
    assert rows[0]["ray_address"] == ray_cluster.address and len(rows[0]["ray_nodes"]) == 2

    _cli("workspace", "configure", "-w", "test-ws", "--ray-address", "")
    assert "ray_address" not in json.loads(services.layout.workspace_json.read_text())
