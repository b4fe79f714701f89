"""Distributed runs on a cluster whose nodes are slots of this machine: every node's
wrapper starts and supervises its ranks, each rank with v1's variables, its own driver
log (azureml-logs/70_driver_log_<rank>.txt) and its own metric spool, all in one run."""

from __future__ import annotations

import json

import pytest

from runyard.core import Experiment, ScriptRunConfig
from runyard.core.compute import AmlCompute, ComputeTarget
from runyard.core.runconfig import MpiConfiguration, PyTorchConfiguration
from runyard.exceptions import UserErrorException

ENV_SCRIPT = """
import json, os
from azureml.core import Run
names = ["MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK",
         "LOCAL_WORLD_SIZE", "AZ_BATCH_MASTER_NODE", "AZUREML_RUN_ID"]
seen = {n: os.environ.get(n) for n in names}
print("ENV " + json.dumps(seen), flush=True)
Run.get_context().log("rank", int(os.environ["RANK"]))
"""


def _cluster(ws, name: str = "dist", max_nodes: int = 2) -> ComputeTarget:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=max_nodes)
    cluster = ComputeTarget.create(ws, name, config)
    cluster.wait_for_completion()
    return cluster


def _rank_log(services, run_id: str, rank: int) -> str:
    path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/70_driver_log_{rank}.txt")
    assert path is not None and path.exists(), f"no driver log of rank {rank}"
    return path.read_text()


def _seen(log: str) -> dict[str, str]:
    lines = [line for line in log.splitlines() if line.startswith("ENV ")]
    assert len(lines) == 1, log
    return json.loads(lines[0][4:])


def test_pytorch_ranks_on_two_nodes_get_their_variables_logs_and_metrics(
    ws, services, source, capsys, wait_until
) -> None:
    cluster = _cluster(ws)
    config = ScriptRunConfig(
        source(**{"train.py": ENV_SCRIPT}),
        "train.py",
        compute_target=cluster,
        distributed_job_config=PyTorchConfiguration(
            communication_backend="Gloo", node_count=2, process_count=4
        ),
    )
    run = Experiment(ws, "dist").submit(config)
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    shown = capsys.readouterr().out
    seen = [_seen(_rank_log(services, run.id, rank)) for rank in range(4)]
    assert [s["RANK"] for s in seen] == ["0", "1", "2", "3"]
    assert {s["WORLD_SIZE"] for s in seen} == {"4"}
    assert [s["NODE_RANK"] for s in seen] == ["0", "0", "1", "1"]
    assert [s["LOCAL_RANK"] for s in seen] == ["0", "1", "0", "1"]
    assert {s["LOCAL_WORLD_SIZE"] for s in seen} == {"2"}
    port = seen[0]["MASTER_PORT"]
    assert {(s["MASTER_ADDR"], s["MASTER_PORT"]) for s in seen} == {("127.0.0.1", port)}
    assert {s["AZ_BATCH_MASTER_NODE"] for s in seen} == {f"127.0.0.1:{port}"}
    assert {s["AZUREML_RUN_ID"] for s in seen} == {run.id}
    # rank 0's output streams to show_output; the others' stay in their own logs
    assert '"RANK": "0"' in shown and '"RANK": "1"' not in shown
    assert sorted(run.get_metrics()["rank"]) == [0, 1, 2, 3]
    info = services.store.get_run(run.id)
    assert len(info.runtime.node_id.split(",")) == 2  # two nodes, taken together

    def nodes_freed() -> bool:  # by the agent's pass after the run's end
        return cluster.get_status().serialize()["nodeStateCounts"]["runningNodeCount"] == 0

    wait_until(nodes_freed, 30, "both nodes to be idle again")


def test_a_run_asking_for_more_nodes_than_max_nodes_is_refused_at_submit(ws, source) -> None:
    cluster = _cluster(ws, max_nodes=2)
    config = ScriptRunConfig(
        source(**{"train.py": "print(1)\n"}),
        "train.py",
        compute_target=cluster,
        distributed_job_config=MpiConfiguration(node_count=3),
    )
    exp = Experiment(ws, "too-big")
    with pytest.raises(UserErrorException, match=r"node_count=3 .* max_nodes=2") as err:
        exp.submit(config)
    assert "update(max_nodes=3)" in str(err.value)
    assert list(exp.get_runs()) == []


FAILING = """
import os, sys, time
if os.environ["RANK"] == "2":
    print("rank 2 gives up", flush=True)
    sys.exit(3)
print("waiting", flush=True)
time.sleep(120)
"""


def test_a_failing_rank_fails_the_run_naming_it_and_stops_the_others(ws, services, source) -> None:
    cluster = _cluster(ws)
    config = ScriptRunConfig(
        source(**{"train.py": FAILING}),
        "train.py",
        compute_target=cluster,
        distributed_job_config=PyTorchConfiguration("Gloo", process_count=4, node_count=2),
    )
    run = Experiment(ws, "fails").submit(config)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    message = details["error"]["error"]["message"]
    assert message.startswith(
        "Rank 2 (node 1) of 'train.py' exited with code 3; the run's other ranks were stopped."
        " Last lines of azureml-logs/70_driver_log_2.txt:\nrank 2 gives up"
    ), message
    assert "waiting" in _rank_log(services, run.id, 0)  # it ran, and was stopped


def test_free_ports_for_a_node_of_another_machine_are_picked_here() -> None:
    """A Ray node's address is not one of this machine's (192.0.2.1: TEST-NET, never
    assigned): the ports come from this machine's free ones instead of an error."""
    from runyard._compute.ranks import free_ports

    ports = free_ports("192.0.2.1", 3)
    assert len(set(ports)) == 3 and all(1024 < p < 65536 for p in ports)
    assert len(set(free_ports("127.0.0.1", 2))) == 2
