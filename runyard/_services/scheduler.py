"""The agent's ``Scheduler``: places runs on the nodes of their target, 'local' included.

It is the only thing that changes compute targets' node state, and persists each backend's
state with ``store.update_compute_target(state=...)`` after every change. The 'local' target
is this machine: its slots live in memory, for the agent's lifetime. The SDK side of
compute targets is ``compute.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from runyard._compute import BACKENDS, LOCAL, backend_for
from runyard._compute.base import ComputeBackend, JobHandle, Placement
from runyard._compute.local import LocalMachineBackend
from runyard._compute.ray_config import workspace_ray_address
from runyard._entities import ComputeTargetInfo, JobRef
from runyard._services import Services
from runyard.exceptions import ComputeTargetNotFound


class Scheduler:
    """Ticks every target and places runs on nodes. Each call starts from the stored state,
    so a target changed by the SDK (update, delete) is seen at once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.local = LocalMachineBackend(
            LOCAL, {"max_nodes": services.settings.local_max_concurrent_runs}, {}
        )
        self.has_clusters = True  # until a tick has read the stored targets

    def _save(self, before: ComputeTargetInfo, backend: ComputeBackend) -> None:
        provisioning = "Succeeded" if before.provisioning_state == "Creating" else None
        state = backend.state()
        if state == dict(before.state) and provisioning is None:
            return
        self.services.store.update_compute_target(
            before.name, state=state, provisioning_state=provisioning
        )

    def backend(self, target: str) -> ComputeBackend:
        """The target's backend ('local' or a stored target), to launch jobs on.

        Raises:
            ComputeTargetException: the target is gone or cannot run jobs.
        """
        if target == LOCAL:
            return self.local
        return self._backend_for(self.services.store.get_compute_target(target))

    def _backend_for(self, info: ComputeTargetInfo) -> ComputeBackend:
        """The target's backend; AmlCompute clusters on Ray when the workspace says so."""
        return backend_for(info, workspace_ray_address(self.services.layout.workspace_json))

    def tick(
        self,
        now: float,
        waiting: Mapping[str, Collection[str]],
        running: Collection[str],
        *,
        read: bool = True,
    ) -> bool:
        """Advances every target; True while some target still changes on its own.
        ``read`` False: the stored targets are not read again when the last read found
        none that runs jobs (a new one wakes the agent, and the next read finds it)."""
        self.local.tick(now, waiting.get(LOCAL, ()), running)
        busy = False
        if not read and not self.has_clusters:
            return busy
        infos = self.services.store.list_compute_targets()
        self.has_clusters = any(i.compute_type in BACKENDS for i in infos)
        for info in infos:
            if info.compute_type not in BACKENDS:
                continue
            backend = self._backend_for(info)
            backend.tick(now, waiting.get(info.name, ()), running)
            self._save(info, backend)
            busy = busy or backend.needs_agent()
        return busy

    def max_nodes(self, target: str) -> int:
        """How many of the target's runs may hold capacity at once: one per node it may
        have (for a cluster, runs Preparing; for 'local', runs of any active status).

        Raises:
            ComputeTargetException: the target is gone or cannot run jobs.
        """
        return max(1, self.backend(target).max_nodes)

    def place(self, run_id: str, target: str, now: float, count: int = 1) -> Placement:
        """A node for the run (``count`` > 1: that many at once, a distributed run's gang),
        or a wait (with a Scaling line when the target grew).

        Raises:
            ComputeTargetException: the target is gone or cannot run jobs.
        """
        if target == LOCAL:
            return self.local.acquire_node(run_id, now)
        info = self.services.store.get_compute_target(target)
        backend = self._backend_for(info)
        placement = backend.acquire_node(run_id, now, count)
        self._save(info, backend)
        return placement

    def release(self, target: str, node_id: str, now: float) -> None:
        if target == LOCAL:
            self.local.release_node(node_id, now)
            return
        try:
            info = self.services.store.get_compute_target(target)
        except ComputeTargetNotFound:
            return
        backend = self._backend_for(info)
        backend.release_node(node_id, now)
        self._save(info, backend)


def reattach(services: Services, run_id: str, target: str, ref: JobRef) -> JobHandle | None:
    """The handle of a job an earlier agent launched, by the backend that launched it (its
    target may have been deleted since); None when that backend is not known here."""
    cls = BACKENDS.get(ref.backend)
    if cls is None:
        return None
    try:
        info = services.store.get_compute_target(target) if target != LOCAL else None
    except ComputeTargetNotFound:
        info = None
    config, state = (info.config, info.state) if info is not None else ({}, {})
    return cls(target, config, state).reattach(run_id, ref)
