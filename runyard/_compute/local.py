"""This machine as compute: the 'local' target, and clusters whose nodes are its slots.

``LocalMachineBackend`` is the 'local' target: ``local_max_concurrent_runs`` slots, held by
a run from Preparing to its end. ``LocalClusterBackend`` is an AmlCompute target: each node
is a slot of this machine.

Node life: ``preparing`` (the cluster is resizing up) -> ``idle`` <-> ``running`` ->
``leaving`` (scaled down after ``idle_seconds_before_scaledown``) -> gone. A node started
for a waiting run is reserved for it, so a scale-up is never taken by a later run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Any

from runyard._compute.base import ComputeBackend, Placement
from runyard._compute.processes import LocalProcesses

PREPARING, IDLE, RUNNING, LEAVING = "preparing", "idle", "running", "leaving"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


class LocalMachineBackend(LocalProcesses, ComputeBackend):
    """The 'local' target: ``max_nodes`` slots (the agent's local_max_concurrent_runs),
    kept in memory only; a run takes one before Preparing and keeps it to its end."""

    compute_type = "local"
    queues_for_node = False

    def __init__(self, name: str, config: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        super().__init__(name, config, state)
        self._slots: dict[str, str] = {}  # slot id -> run id

    def acquire_node(self, run_id: str, now: float, count: int = 1) -> Placement:
        if count != 1:  # refused at submit (jobs.py): a run on 'local' has one node
            raise ValueError(f"the 'local' target runs one node per run, not {count}")
        for slot, holder in self._slots.items():
            if holder == run_id:
                return Placement(slot)
        for i in range(self.max_nodes):
            slot = f"local_{i}"
            if slot not in self._slots:
                self._slots[slot] = run_id
                return Placement(slot)
        return Placement(None)

    def release_node(self, node_id: str, now: float) -> None:
        self._slots.pop(node_id, None)

    def tick(self, now: float, waiting: Collection[str], running: Collection[str]) -> None:
        self._slots = {s: r for s, r in self._slots.items() if r in running}

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "nodeId": slot,
                "port": None,
                "privateIpAddress": "127.0.0.1",
                "publicIpAddress": "127.0.0.1",
                "nodeState": RUNNING if slot in self._slots else IDLE,
                "runId": self._slots.get(slot),
            }
            for slot in (f"local_{i}" for i in range(self.max_nodes))
        ]

    def status(self) -> dict[str, Any]:
        return {"currentNodeCount": self.max_nodes, "runningNodeCount": len(self._slots)}

    def state(self) -> dict[str, Any]:
        return {"slots": dict(self._slots)}

    def needs_agent(self) -> bool:
        return False


class LocalClusterBackend(LocalProcesses, ComputeBackend):
    """Nodes are records; a run "on" a node runs as a process of this machine."""

    compute_type = "AmlCompute"

    def __init__(self, name: str, config: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        super().__init__(name, config, state)
        self._nodes: list[dict[str, Any]] = [dict(n) for n in state.get("nodes") or []]
        self._seq = int(state.get("seq", 0))
        self._allocation = str(state.get("allocationState", "Steady"))
        self._allocation_time = state.get("allocationStateTransitionTime")
        self._errors = list(state.get("errors") or [])

    # ---- settings ----------------------------------------------------------------------
    @property
    def min_nodes(self) -> int:
        return int(self.config.get("min_nodes", 0))

    @property
    def idle_seconds(self) -> float:
        return float(self.config.get("idle_seconds_before_scaledown", 1800))

    # ---- scheduling --------------------------------------------------------------------
    def _live(self) -> list[dict[str, Any]]:
        return [n for n in self._nodes if n["nodeState"] != LEAVING]

    def _add_node(self, now: float, reserved_for: str | None) -> dict[str, Any]:
        self._seq += 1
        node = {
            "nodeId": f"tvmps_{self.name}_{self._seq:04d}_d",
            "nodeState": PREPARING,
            "runId": None,
            "reservedFor": reserved_for,
            "since": now,
            "port": 50000 + self._seq,
        }
        self._nodes.append(node)
        return node

    def acquire_node(self, run_id: str, now: float, count: int = 1) -> Placement:
        """``count`` nodes at once or none (a distributed run's gang). While the run waits,
        the idle nodes it found stay reserved for it, so runs queued after it cannot take
        them one by one (nodes go in submit order, whatever a run's size)."""
        live = self._live()
        mine = [n for n in live if n.get("reservedFor") == run_id]
        if any(n["nodeState"] == PREPARING for n in mine):
            return Placement(None)
        free = [n for n in live if n["nodeState"] == IDLE and not n.get("reservedFor")]
        chosen = (mine + free)[:count]
        if len(chosen) == count:
            for node in chosen:
                node.update(nodeState=RUNNING, runId=run_id, reservedFor=None, since=now)
            self._settle(now)
            return Placement(",".join(n["nodeId"] for n in chosen))
        for node in chosen:
            node["reservedFor"] = run_id
        before = len(live)
        add = min(count - len(chosen), self.max_nodes - before)
        if add <= 0:
            return Placement(None)
        for _ in range(add):
            self._add_node(now, run_id)
        self._settle(now)
        return Placement(
            None,
            f"Scaling: cluster {self.name} is resizing from {before} to {before + add} node(s)",
        )

    def release_node(self, node_id: str, now: float) -> None:
        ids = set(node_id.split(","))  # a gang's nodes
        for node in self._nodes:
            if node["nodeId"] in ids and node["nodeState"] == RUNNING:
                node.update(nodeState=IDLE, runId=None, since=now)

    def tick(self, now: float, waiting: Collection[str], running: Collection[str]) -> None:
        self._nodes = [n for n in self._nodes if n["nodeState"] != LEAVING]
        for node in self._nodes:
            if node["nodeState"] == RUNNING and node["runId"] not in running:
                node.update(nodeState=IDLE, runId=None, since=now)
            if node.get("reservedFor") and node["reservedFor"] not in waiting:
                node["reservedFor"] = None
            if node["nodeState"] == PREPARING:
                node.update(nodeState=IDLE, since=now)
        while len(self._live()) < self.min_nodes:
            self._add_node(now, None)
        self._scale_down(now)
        self._settle(now)

    def _scale_down(self, now: float) -> None:
        idle = [
            n
            for n in self._live()
            if n["nodeState"] == IDLE
            and not n.get("reservedFor")
            and now - float(n["since"]) >= self.idle_seconds
        ]
        extra = len(self._live()) - self.min_nodes
        for node in sorted(idle, key=lambda n: n["since"])[: max(0, extra)]:
            node.update(nodeState=LEAVING, since=now)

    def _settle(self, now: float) -> None:
        changing = any(n["nodeState"] in (PREPARING, LEAVING) for n in self._nodes)
        allocation = "Resizing" if changing else "Steady"
        if allocation != self._allocation or self._allocation_time is None:
            self._allocation, self._allocation_time = allocation, iso(now)

    # ---- reporting ---------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "nodeId": n["nodeId"],
                "port": n["port"],
                "privateIpAddress": "127.0.0.1",
                "publicIpAddress": "127.0.0.1",
                "nodeState": n["nodeState"],
                "runId": n["runId"],
            }
            for n in self._nodes
        ]

    def status(self) -> dict[str, Any]:
        counts = {state: 0 for state in (PREPARING, RUNNING, IDLE, LEAVING)}
        for node in self._nodes:
            counts[node["nodeState"]] += 1
        return {
            "currentNodeCount": len(self._nodes),
            "targetNodeCount": len(self._live()),
            "nodeStateCounts": {
                "preparingNodeCount": counts[PREPARING],
                "runningNodeCount": counts[RUNNING],
                "idleNodeCount": counts[IDLE],
                "unusableNodeCount": 0,
                "leavingNodeCount": counts[LEAVING],
                "preemptedNodeCount": 0,
            },
            "allocationState": self._allocation,
            "allocationStateTransitionTime": self._allocation_time,
            "errors": list(self._errors) or None,
        }

    def state(self) -> dict[str, Any]:
        return {
            "nodes": [dict(n) for n in self._nodes],
            "seq": self._seq,
            "allocationState": self._allocation,
            "allocationStateTransitionTime": self._allocation_time,
            "errors": list(self._errors),
        }

    def needs_agent(self) -> bool:
        return len(self._nodes) > self.min_nodes or any(
            n["nodeState"] in (PREPARING, LEAVING) for n in self._nodes
        )
