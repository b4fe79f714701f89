"""Runs on a Ray cluster: ``RayBackend`` (an attached ``RayCompute`` target, or every
AmlCompute cluster of a workspace given a Ray address).

A run's nodes are one Ray **placement group** (``runyard-<run id>``, detached; one bundle per
node, STRICT_SPREAD across Ray nodes when there are several, sized from the vm-size table and
capped to the largest Ray node). While the group is pending the run waits Queued, with the
reason. Each node of the run is a detached **actor** (``ray_node.RayNode``, named
``<run id>-<node>``) pinned to its bundle: it unpacks the working copy on its node, builds the
environment there, and runs the job under Runyard's job wrapper. The agent's handle pulls the
driver log, the metric spools, the rank logs, the exit status and ./logs, ./outputs back into
the job's local paths in ``sync()``, from offsets it keeps beside the job, so a later agent
goes on exactly where the last one stopped.

Ray is imported only here, on first use, and the agent is the only Ray driver: SDK readers see
the state the agent persisted (nodes, queue).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import sys
import tarfile
import threading
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._compute import gang
from runyard._compute.base import MAX_ATTEMPTS, ComputeBackend, JobHandle, JobSpec, Placement
from runyard._compute.ray_config import RAY_TYPE, check_reachable, unreachable_message
from runyard._compute.ray_node import (
    ALIAS,
    BUILD_LOG,
    DRIVER_LOG,
    JOB,
    PYTHON,
    RUNYARD_ROOT,
    RayNode,
)
from runyard._compute.ray_relay import NAMESPACE, ensure_relay, relay_spec
from runyard._compute.vm_sizes import vm_size
from runyard._entities import JobRef
from runyard.exceptions import ComputeTargetException

log = logging.getLogger(__name__)


GROUP_PREFIX = "runyard-"
REFRESH_SECONDS = 2.0  # how often the agent reads the Ray nodes
START_TIMEOUT = 120.0  # an actor's first call: a fresh worker process on a loaded node
RELEASED = "released"  # the handle let its ended job's actor go
CALL_SLACK = 30.0  # beyond a call's own wait, before it counts as lost
GiB = 1024**3
WAITING = "WAITING"  # a run queued before its placement group was made

_lock = threading.RLock()
_connected: str | None = None


def connect(address: str) -> Any:
    """The ``ray`` module, connected to ``address`` as this process's one driver.

    Raises:
        ComputeTargetException: nothing answers there, or Ray refused the connection.
    """
    global _connected
    with _lock:
        # late: Ray is heavy (0.5-0.8 s) and optional (runyard[ray]); only Ray targets load it
        import ray

        if _connected == address and ray.is_initialized():
            return ray
        check_reachable(address)
        if ray.is_initialized():
            ray.shutdown()
        try:
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
        except Exception as exc:  # noqa: BLE001 - Ray raises several kinds here
            raise ComputeTargetException(unreachable_message(address, exc)) from exc
        _connected = address
        return ray


def actor_name(run_id: str, index: int, attempt: int = 0) -> str:
    """The detached actor of a run's node ``index``; a retry's actor has a name of its own
    (the lost one's may still be held by Ray)."""
    return f"{run_id}-{index}" if attempt == 0 else f"{run_id}-{index}-r{attempt}"


def _group_name(run_id: str) -> str:
    return f"{GROUP_PREFIX}{run_id}"


def _node_ids(run_id: str, count: int) -> str:
    return ",".join(f"{_group_name(run_id)}:{k}" for k in range(count))


def _split_node_id(node_id: str) -> tuple[str, int]:
    group, _, index = node_id.rpartition(":")
    return group, int(index)


def _describe(bundle: Mapping[str, float]) -> str:
    parts = [f"{bundle.get('CPU', 0):g} CPU"]
    if bundle.get("GPU"):
        parts.append(f"{bundle['GPU']:g} GPU")
    if bundle.get("memory"):
        parts.append(f"{bundle['memory'] / GiB:.1f} GB")
    return ", ".join(parts)


class RayBackend(ComputeBackend):
    """Node accounting by placement groups; jobs as actors in them."""

    compute_type = RAY_TYPE
    release_at_job_end = True

    def __init__(self, name: str, config: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        super().__init__(name, config, state)
        self.address = str(config.get("address") or "")
        self._groups: dict[str, dict[str, Any]] = {
            r: dict(g) for r, g in (state.get("groups") or {}).items()
        }
        self._ray_nodes: list[dict[str, Any]] = [dict(n) for n in state.get("rayNodes") or []]
        self._refreshed = float(state.get("refreshed", 0.0))
        self._error: str | None = state.get("error")

    # ---- settings ------------------------------------------------------------------------
    @property
    def max_nodes(self) -> int:
        given = int(self.config.get("max_nodes") or 0)
        return given if given > 0 else max(1, len(self._workers()))

    def _workers(self) -> list[dict[str, Any]]:
        """Alive Ray nodes that take work (a head started with --num-cpus=0 does not)."""
        return [
            n
            for n in self._ray_nodes
            if n.get("alive") and (n["resources"].get("CPU", 0) > 0 or n["resources"].get("GPU"))
        ]

    def _asked(self) -> dict[str, float]:
        """One node's resources as asked: the vm size's, or the attached target's."""
        size_name = self.config.get("vm_size")
        if size_name:
            size = vm_size(str(size_name))
            return {
                "CPU": float(size.cores),
                "GPU": float(size.gpus),
                "memory": size.memory_gb * GiB,
            }
        memory = self.config.get("memory_gb")
        return {
            "CPU": float(self.config.get("cpus_per_node", 1) or 1),
            "GPU": float(self.config.get("gpus_per_node", 0) or 0),
            "memory": float(memory) * GiB if memory else 0.0,
        }

    def _bundle(self) -> tuple[dict[str, float], str | None]:
        """The bundle of one node, capped to the largest alive Ray node, and a note when
        it was capped (or its GPUs dropped: none on the cluster)."""
        asked = self._asked()
        workers = self._workers()
        if not workers:
            return {k: v for k, v in asked.items() if v}, None
        largest = {
            key: max(float(n["resources"].get(key, 0)) for n in workers)
            for key in ("CPU", "GPU", "memory")
        }
        bundle = {key: min(asked[key], largest[key]) for key in asked}
        if asked["CPU"] > 0 and bundle["CPU"] <= 0:
            bundle["CPU"] = asked["CPU"]
        bundle = {k: v for k, v in bundle.items() if v}
        note = None
        if any(bundle.get(k, 0.0) < asked[k] for k in asked):
            what = self.config.get("vm_size") or "a node of this target"
            note = (
                f"{what} asks {_describe(asked)}; the largest Ray node has "
                f"{_describe(largest)}: each node of this run gets {_describe(bundle)}"
            )
            if asked["GPU"] and not largest["GPU"]:
                note += " (the Ray cluster has no GPU: the run uses the CPU)"
        return bundle, note

    # ---- node accounting -----------------------------------------------------------------
    def acquire_node(self, run_id: str, now: float, count: int = 1) -> Placement:
        group = self._groups.get(run_id)
        if group is not None and group.get("state") == "CREATED":
            # Placed before: only a run whose node was lost asks again; its group was
            # removed then, and a new one is made.
            try:
                if self._group_state(group["name"]) == "REMOVED":
                    del self._groups[run_id]
                    group = None
            except ComputeTargetException as exc:
                self._error = str(exc)
                return self._wait(run_id, f"Run is waiting for the Ray cluster: {exc}")
        if group is None or group.get("state") == WAITING:  # no placement group yet
            busy = sum(int(g["count"]) for g in self._groups.values())
            if busy + count > self.max_nodes:
                return self._wait(
                    run_id,
                    f"Run is waiting for {count} free node(s) on target {self.name!r}: "
                    f"{busy} of max_nodes={self.max_nodes} are in use.",
                )
            try:
                group = self._create_group(run_id, count, now)
            except ComputeTargetException as exc:
                self._error = str(exc)
                return self._wait(run_id, f"Run is waiting for the Ray cluster: {exc}")
        if group.get("state") != "CREATED":
            try:
                group["state"] = self._group_state(group["name"])
            except ComputeTargetException as exc:
                self._error = str(exc)
                return self._wait(run_id, f"Run is waiting for the Ray cluster: {exc}")
        if group["state"] != "CREATED":
            reason = (
                f"Run is waiting for Ray at {self.address} to fit {count} node(s) of "
                f"{_describe(group['bundle'])} ({group['strategy']}); "
                f"{len(self._workers())} Ray node(s) take work."
            )
            return self._wait(run_id, reason)
        group.pop("reason", None)
        return Placement(_node_ids(run_id, int(group["count"])))

    def _wait(self, run_id: str, reason: str) -> Placement:
        """Placement(None); the reason as a 'Scaling' line only when it changed (it goes to
        the driver log and to get_detailed_status()). A run with no group yet waits as an
        entry of count 0 (state WAITING), so that it shows in the queue."""
        entry = self._groups.setdefault(run_id, {"count": 0, "state": WAITING})
        said = entry.get("reason")
        entry["reason"] = reason
        if said == reason:
            return Placement(None)
        return Placement(None, reason)

    def _create_group(self, run_id: str, count: int, now: float) -> dict[str, Any]:
        ray = connect(self.address)
        self._refresh(now, force=not self._ray_nodes)
        # late: part of Ray, loaded above
        from ray.util.placement_group import placement_group

        bundle, note = self._bundle()
        strategy = "STRICT_SPREAD" if count > 1 else "PACK"
        name = _group_name(run_id)
        existing = self._find_group(ray, name)
        if existing is None:
            placement_group([dict(bundle) for _ in range(count)], strategy=strategy, name=name,
                            lifetime="detached")  # fmt: skip
        group = {
            "name": name,
            "count": count,
            "since": now,
            "bundle": bundle,
            "strategy": strategy,
            "state": "PENDING",
            "note": note,
        }
        self._groups[run_id] = group
        return group

    @staticmethod
    def _find_group(ray: Any, name: str) -> Any:
        try:
            return ray.util.get_placement_group(name)
        except ValueError:  # no such group
            return None

    def _group_state(self, name: str) -> str:
        ray = connect(self.address)
        group = self._find_group(ray, name)
        if group is None:
            return "REMOVED"
        table = ray.util.placement_group_table(group)
        return str(table.get("state", "PENDING"))

    def release_node(self, node_id: str, now: float) -> None:
        ids = node_id.split(",")
        group_name, _ = _split_node_id(ids[0])
        run_id = group_name.removeprefix(GROUP_PREFIX)
        # Known or not to this instance (a supervisor's, built before the group was made).
        self._groups.setdefault(run_id, {"name": group_name, "count": len(ids)})
        self._remove_group(run_id)

    def _remove_group(self, run_id: str) -> None:
        group = self._groups.pop(run_id, None)
        if not group or not group.get("name") or not self.address:
            return
        try:
            ray = connect(self.address)
            found = self._find_group(ray, group["name"])
            for index in range(int(group.get("count", 0))):
                for attempt in range(MAX_ATTEMPTS):
                    with contextlib.suppress(ValueError):
                        name = actor_name(run_id, index, attempt)
                        ray.kill(ray.get_actor(name, namespace=NAMESPACE))
            if found is not None:
                ray.util.remove_placement_group(found)
        except ComputeTargetException as exc:  # gone: the group goes with the cluster
            log.warning("placement group of %s not removed: %s", run_id, exc)

    def tick(self, now: float, waiting: Collection[str], running: Collection[str]) -> None:
        for run_id in list(self._groups):
            if run_id not in waiting and run_id not in running:
                self._remove_group(run_id)
        if self._groups or now - self._refreshed >= REFRESH_SECONDS * 15:
            self._refresh(now)

    def _refresh(self, now: float, *, force: bool = False) -> None:
        if not force and now - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = now
        try:
            ray = connect(self.address)
            found = ray.nodes()
        except ComputeTargetException as exc:
            self._error = str(exc)
            for node in self._ray_nodes:
                node["alive"] = False
            return
        self._error = None
        self._ray_nodes = [
            {
                "rayNodeId": str(n.get("NodeID")),
                "address": str(n.get("NodeManagerAddress")),
                "alive": bool(n.get("Alive")),
                "resources": {
                    k: float(v)
                    for k, v in (n.get("Resources") or {}).items()
                    if k in ("CPU", "GPU", "memory")
                },
            }
            for n in found
        ]

    def node_addresses(self, node_ids: Sequence[str]) -> list[str]:
        """The address of the Ray node that holds each node's bundle (its placement
        group's table), 127.0.0.1 where Ray does not say."""
        ray = connect(self.address)
        alive = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}
        found = []
        for node_id in node_ids:
            group_name, index = _split_node_id(node_id)
            group = self._find_group(ray, group_name)
            table = ray.util.placement_group_table(group) if group is not None else {}
            holder = (table.get("bundles_to_node_id") or {}).get(index)
            found.append(str(alive.get(holder) or "127.0.0.1"))
        return found

    # ---- reporting -----------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        running = {g["name"]: r for r, g in self._groups.items() if g.get("state") == "CREATED"}
        return [
            {
                "nodeId": n["rayNodeId"],
                "rayNodeId": n["rayNodeId"],
                "port": None,
                "privateIpAddress": n["address"],
                "publicIpAddress": n["address"],
                "nodeState": "running" if running else "idle",
                "runId": next(iter(running.values()), None),
                "resources": dict(n["resources"]),
            }
            for n in self._workers()
        ]

    def status(self) -> dict[str, Any]:
        workers = self._workers()
        placed = sum(int(g["count"]) for g in self._groups.values() if g.get("state") == "CREATED")
        return {
            "currentNodeCount": len(workers),
            "targetNodeCount": len(workers),
            "nodeStateCounts": {
                "preparingNodeCount": 0,
                "runningNodeCount": min(placed, len(workers)),
                "idleNodeCount": max(0, len(workers) - placed),
                "unusableNodeCount": sum(1 for n in self._ray_nodes if not n.get("alive")),
                "leavingNodeCount": 0,
                "preemptedNodeCount": 0,
            },
            "allocationState": "Steady",
            "allocationStateTransitionTime": None,
            "errors": [self._error] if self._error else None,
            "rayAddress": self.address,
            "queue": [
                {"runId": r, "reason": g.get("reason")}
                for r, g in self._groups.items()
                if g.get("state") != "CREATED"
            ],
        }

    def state(self) -> dict[str, Any]:
        return {
            "groups": {r: dict(g) for r, g in self._groups.items()},
            "rayNodes": [dict(n) for n in self._ray_nodes],
            "refreshed": self._refreshed,
            "error": self._error,
            "rayAddress": self.address,
        }

    def needs_agent(self) -> bool:
        return bool(self._groups)

    # ---- jobs ----------------------------------------------------------------------------
    def launch(self, job: JobSpec) -> JobHandle:
        if job.node_id is None or job.status_file is None:
            raise OSError(f"run {job.run_id}: a Ray job needs its node and status file")
        ray = connect(self.address)
        # late: part of Ray, loaded above
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        group_name, index = _split_node_id(job.node_id)
        group = self._find_group(ray, group_name)
        if group is None:
            raise OSError(f"run {job.run_id}: its placement group {group_name} is gone")
        bundle = ray.util.placement_group_table(group)["bundles"][index]
        name = actor_name(job.run_id, index, job.attempt)
        actor = (
            ray.remote(RayNode)
            .options(
                name=name,
                namespace=NAMESPACE,
                lifetime="detached",
                max_restarts=0,
                max_concurrency=8,
                num_cpus=float(bundle.get("CPU", 0)),
                num_gpus=float(bundle.get("GPU", 0)),
                memory=float(bundle.get("memory", 0)) or None,
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    group, placement_group_bundle_index=index
                ),
            )
            .remote(name)
        )
        portable, snapshot = portable_job(job)
        portable["relay"] = self._relay(ray, job)
        try:
            where = ray.get(actor.start.remote(portable, snapshot), timeout=START_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - the actor could not start: the job did not
            with contextlib.suppress(Exception):
                ray.kill(actor)
            raise OSError(f"run {job.run_id}: its Ray actor did not start: {exc}") from exc
        node = str(where.get("node_id") or "?")
        note = (self._groups.get(job.run_id) or {}).get("note")
        with open(job.driver_log, "a") as f:
            f.write(f"Runyard: node {index} of the run runs on Ray node {node} at "
                    f"{where['host']} (actor {name}, placement group {group_name}).\n")  # fmt: skip
            if note and index == 0:  # the vm size was capped to the Ray nodes: say so once
                f.write(f"Runyard: {note}.\n")
        placed = {"rayNodeId": node, "host": str(where["host"]), "actor": name,
                  "placementGroup": group_name, "rayAddress": self.address}  # fmt: skip
        sidecar = write_sidecar(job, index, placed)
        return RayJobHandle(self.address, job.run_id, name, sidecar)

    @staticmethod
    def _relay(ray: Any, job: JobSpec) -> dict[str, str] | None:
        """The workspace's channel relay, made on this agent's Ray node if it is not running:
        how the job's node finds it (None for a job with no workspace)."""
        workspace = job.env.get(_jobenv.WORKSPACE_DIR)
        if not workspace:
            return None
        spec = relay_spec(workspace, ray.get_runtime_context().get_node_id())
        ensure_relay(ray, spec)
        return spec

    def reattach(self, run_id: str, ref: JobRef) -> JobHandle:
        nodes = gang.split_ref(ref)
        if nodes is not None:  # a distributed run: one actor per node
            return gang.GangHandle([self.reattach(run_id, node) for node in nodes])
        address, _, sidecar = (ref.instance or "").partition("|")
        return RayJobHandle(address, run_id, ref.job_id, Path(urllib.parse.unquote(sidecar)))


def portable_job(job: JobSpec) -> tuple[dict[str, Any], bytes]:
    """The job with its agent-side paths as placeholders, and its working copy (and dataset
    inputs, and its empty spools) as a tar."""
    assert job.status_file is not None
    job_dir = job.status_file.parent
    exact = {str(job.driver_log): f"{JOB}/{DRIVER_LOG}"}
    exact.update({r.log: f"{JOB}/{Path(r.log).name}" for r in job.ranks if r.log})
    prefixes = {
        str(job_dir): JOB,
        _jobenv.alias_pythonpath(): ALIAS,
        str(Path(_jobenv.__file__).resolve().parent.parent): RUNYARD_ROOT,
    }

    def portable(value: str) -> str:
        if value in exact:
            return exact[value]
        for real, placeholder in exact.items():
            value = value.replace(real, placeholder)
        for real, placeholder in prefixes.items():
            value = value.replace(real, placeholder)
        return value

    base = os.environ
    env = {k: portable(v) for k, v in job.env.items() if base.get(k) != v or k == "PYTHONPATH"}
    unset = [k for k in base if k not in job.env]
    argv = [portable(a) for a in job.argv]
    if job.environment is not None or argv[0] == sys.executable:
        argv[0] = PYTHON
    spec: dict[str, Any] = {
        "run_id": job.run_id,
        "argv": argv,
        "cwd": f"{JOB}/wd",  # the working copy goes as wd/, wherever it is here
        "env": env,
        "unset": unset,
        "status_file": portable(str(job.status_file)),
        "environment": job.environment,
        "ranks": [
            {
                "rank": r.rank,
                "env": {k: portable(v) for k, v in r.env.items()},
                "log": portable(r.log),
                "tee": r.tee,
            }
            for r in job.ranks
        ],  # fmt: skip
        "pmi": None
        if job.pmi is None
        else {
            "host": job.pmi.host,
            "port": job.pmi.port,
            "size": job.pmi.size,
            "mapping": job.pmi.mapping,
        },  # fmt: skip
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        tar.add(job.cwd, arcname="wd")
        if (job_dir / "inputs").exists():
            tar.add(job_dir / "inputs", arcname="inputs")
        for spool in sorted(job_dir.glob("spool*.bin")):
            tar.add(spool, arcname=spool.name)
    return spec, buffer.getvalue()


def write_sidecar(job: JobSpec, index: int, placed: Mapping[str, str]) -> Path:
    """``ray_node.<index>.json`` beside the job: where each file the node writes is brought
    back to, and how much of it was (kept there, so a later agent goes on from it)."""
    assert job.status_file is not None
    job_dir = job.status_file.parent
    mirrors = {DRIVER_LOG: str(job.driver_log), BUILD_LOG: str(job.driver_log.with_name(BUILD_LOG))}
    mirrors.update({Path(r.log).name: r.log for r in job.ranks if r.log})
    path = job_dir / f"ray_node.{index}.json"
    side = {"dir": str(job_dir), "cwd": str(job.cwd), "mirrors": mirrors, "offsets": {},
            "placed": dict(placed)}  # fmt: skip
    _write_json(path, side)
    return path


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _is_status(name: str) -> bool:
    """Files the wrapper writes whole (its exit status, the swept marker): copied whole."""
    return name.startswith("exit_status") and not name.endswith(".request.json")


class RayJobHandle(JobHandle):
    """One node's actor of a run, seen from the agent."""

    def __init__(self, address: str, run_id: str, actor: str, sidecar: Path) -> None:
        self.address, self.run_id, self.actor_name, self.sidecar = address, run_id, actor, sidecar
        self._actor: Any = None
        self._code: int | None = None
        self._fresh = True  # the first pull of this handle asks for every tree file
        self.lost: str | None = None  # why the node's actor is gone, once it is
        try:
            self._side: dict[str, Any] = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            self._side = {"dir": str(sidecar.parent), "mirrors": {}, "offsets": {}}

    @property
    def ref(self) -> JobRef:
        where = urllib.parse.quote(str(self.sidecar), safe="/")
        return JobRef(backend=RAY_TYPE, job_id=self.actor_name, instance=f"{self.address}|{where}")

    def _get(self) -> Any:
        ray = connect(self.address)
        if self._actor is None:
            self._actor = ray.get_actor(self.actor_name, namespace=NAMESPACE)
        return ray, self._actor

    def _call(self, method: str, *args: Any, timeout: float) -> Any:
        """The actor's answer; None once the actor is gone (``lost`` says why).

        Raises:
            TimeoutError: no answer in time (the node may only be slow).
        """
        if self.lost is not None:
            return None
        try:
            ray, actor = self._get()
            return ray.get(getattr(actor, method).remote(*args), timeout=timeout)
        except ValueError:  # no actor of that name: it ended, or never started
            self.lost = f"the job's Ray actor {self.actor_name} is gone"
        except ComputeTargetException as exc:
            raise TimeoutError(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - Ray's errors: decide by their kind
            kind = type(exc).__name__
            if kind in ("GetTimeoutError", "ActorUnavailableError"):
                raise TimeoutError(f"{kind}: {exc}") from exc
            self.lost = f"{kind}: {exc}"
        return None

    def wait(self, timeout: float) -> int | None:
        if self._code is not None:
            return self._code
        try:
            report = self._call("wait", timeout, timeout=timeout + CALL_SLACK)
        except TimeoutError:
            return None
        if report is None:
            self._code = -signal.SIGKILL  # the node (or its actor) died under the job
        elif report["code"] is not None:
            self._code = int(report["code"])
        return self._code

    def running(self) -> bool:
        if self._code is not None or self.lost is not None:
            return False
        try:
            report = self._call("wait", 0.0, timeout=CALL_SLACK)
        except TimeoutError:
            return True  # unknown: not ended as far as we can tell
        return report is not None and (report["code"] is None)

    def cancel(self, *, force: bool = False) -> None:
        if self.lost is not None:
            return
        if self._code is not None and force:  # ended and pulled: the node's part is over
            with contextlib.suppress(TimeoutError):
                self._call("release", timeout=CALL_SLACK)
            with contextlib.suppress(Exception):
                ray, actor = self._get()
                ray.kill(actor)
            self.lost = RELEASED
            return
        with contextlib.suppress(TimeoutError):
            self._call("cancel", force, timeout=CALL_SLACK)

    def placement(self) -> list[dict[str, Any]]:
        return [dict(self._side.get("placed") or {"actor": self.actor_name})]

    def lost_node(self) -> str | None:
        if self.lost is None or self.lost == RELEASED:
            return None
        placed = self._side.get("placed") or {}
        node = placed.get("rayNodeId", "?")
        return (
            f"Ray node {node} at {placed.get('host', '?')} was lost under the run (its actor "
            f"{self.actor_name}: {self.lost.splitlines()[0][:300]})"
        )

    def sync(self) -> None:
        """New bytes of the node's logs and spools appended here, its exit status copied,
        changed files of ./logs and ./outputs written into the working copy."""
        offsets: dict[str, int] = self._side["offsets"]
        job_dir = Path(self._side["dir"])
        for _ in range(64):  # at most 64 pulls of PULL_LIMIT per file at once
            try:
                got = self._call("pull", dict(offsets), self._fresh, timeout=CALL_SLACK)
            except TimeoutError:
                return
            if got is None:
                return
            self._fresh = False
            for rel, data in got["files"].items():
                target = Path(self._side.get("cwd") or job_dir / "wd") / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            for name, data in got["grown"].items():
                target = Path(self._side["mirrors"].get(name) or job_dir / name)
                if _is_status(name):
                    tmp = target.with_name(f".{target.name}.pull")
                    tmp.write_bytes(data)
                    os.replace(tmp, target)
                    continue
                with open(target, "ab") as f:
                    f.write(data)
                offsets[name] = offsets.get(name, 0) + len(data)
            if got["grown"]:
                _write_json(self.sidecar, self._side)
            if not got["more"]:
                return
