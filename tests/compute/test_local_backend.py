"""The local cluster backend on its own: node states, reservations, scale up and down."""

from __future__ import annotations

from runyard._compute.local import LocalClusterBackend

CONFIG = {"min_nodes": 0, "max_nodes": 2, "idle_seconds_before_scaledown": 10}


def counts(backend: LocalClusterBackend) -> dict[str, int]:
    status = backend.status()
    return {"current": status["currentNodeCount"], **status["nodeStateCounts"]}


def test_scale_up_reserves_a_node_for_the_waiting_run() -> None:
    b = LocalClusterBackend("c", CONFIG, {})
    first = b.acquire_node("r1", now=0)
    assert first.node_id is None
    assert first.scaling == "Scaling: cluster c is resizing from 0 to 1 node(s)"
    assert b.status()["allocationState"] == "Resizing"
    assert (
        b.acquire_node("r2", now=0).scaling == "Scaling: cluster c is resizing from 1 to 2 node(s)"
    )
    third = b.acquire_node("r3", now=0)
    assert (third.node_id, third.scaling) == (None, None)  # at max_nodes: r3 waits
    b.tick(now=1, waiting={"r1", "r2", "r3"}, running=set())
    assert b.acquire_node("r3", now=1).node_id is None  # both new nodes are reserved
    got = b.acquire_node("r2", now=1)
    assert got.node_id is not None
    assert counts(b)["runningNodeCount"] == 1 and b.status()["allocationState"] == "Steady"


def test_ended_runs_free_nodes_that_scale_down_after_the_idle_time() -> None:
    b = LocalClusterBackend("c", CONFIG, {})
    b.acquire_node("r1", now=0)
    b.tick(now=0, waiting={"r1"}, running=set())
    node = b.acquire_node("r1", now=0).node_id
    assert b.nodes()[0]["runId"] == "r1" and b.nodes()[0]["nodeId"] == node
    b.tick(now=5, waiting=set(), running=set())  # r1 ended
    assert counts(b)["idleNodeCount"] == 1
    b.tick(now=14, waiting=set(), running=set())
    assert counts(b)["idleNodeCount"] == 1 and b.needs_agent()
    b.tick(now=15, waiting=set(), running=set())
    assert counts(b)["leavingNodeCount"] == 1 and b.status()["allocationState"] == "Resizing"
    b.tick(now=16, waiting=set(), running=set())
    assert counts(b)["current"] == 0 and not b.needs_agent()


def test_min_nodes_are_kept_and_state_round_trips() -> None:
    b = LocalClusterBackend("c", {**CONFIG, "min_nodes": 1}, {})
    b.tick(now=0, waiting=set(), running=set())
    b.tick(now=100, waiting=set(), running=set())
    again = LocalClusterBackend("c", {**CONFIG, "min_nodes": 1}, b.state())
    again.tick(now=1000, waiting=set(), running=set())
    assert counts(again) == {
        "current": 1,
        "preparingNodeCount": 0,
        "runningNodeCount": 0,
        "idleNodeCount": 1,
        "unusableNodeCount": 0,
        "leavingNodeCount": 0,
        "preemptedNodeCount": 0,
    }
