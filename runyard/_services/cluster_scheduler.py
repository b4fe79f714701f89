"""The agent's ``ClusterScheduler``: the only thing that changes compute targets' node state.

It persists each backend's state with ``store.update_compute_target(state=...)`` after every
change; the SDK side of compute targets is ``compute.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from runyard._compute import BACKENDS
from runyard._compute.base import ComputeBackend, Placement
from runyard._entities import ComputeTargetInfo
from runyard._services import Services
from runyard._services.compute import backend_of
from runyard.exceptions import ComputeTargetNotFound


class ClusterScheduler:
    """The agent's side: ticks every target and places runs on nodes. Each call starts
    from the stored state, so a target changed by the SDK (update, delete) is seen at once."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _save(self, before: ComputeTargetInfo, backend: ComputeBackend) -> None:
        provisioning = "Succeeded" if before.provisioning_state == "Creating" else None
        state = backend.state()
        if state == dict(before.state) and provisioning is None:
            return
        self.services.store.update_compute_target(
            before.name, state=state, provisioning_state=provisioning
        )

    def tick(
        self, now: float, waiting: Mapping[str, Collection[str]], running: Collection[str]
    ) -> bool:
        """Advances every target; True while some target still changes on its own."""
        busy = False
        for info in self.services.store.list_compute_targets():
            if info.compute_type not in BACKENDS:
                continue
            backend = backend_of(info)
            backend.tick(now, waiting.get(info.name, ()), running)
            self._save(info, backend)
            busy = busy or backend.needs_agent()
        return busy

    def max_nodes(self, target: str) -> int:
        """How many of the target's runs may prepare at once: one per node it may have.

        Raises:
            ComputeTargetException: the target is gone or cannot run jobs.
        """
        return max(1, backend_of(self.services.store.get_compute_target(target)).max_nodes)

    def place(self, run_id: str, target: str, now: float) -> Placement:
        """A node for the run, or a wait (with a Scaling line when the target grew).

        Raises:
            ComputeTargetException: the target is gone or cannot run jobs.
        """
        info = self.services.store.get_compute_target(target)
        backend = backend_of(info)
        placement = backend.acquire_node(run_id, now)
        self._save(info, backend)
        return placement

    def release(self, target: str, node_id: str, now: float) -> None:
        try:
            info = self.services.store.get_compute_target(target)
        except ComputeTargetNotFound:
            return
        backend = backend_of(info)
        backend.release_node(node_id, now)
        self._save(info, backend)
