"""``ComputeBackend``: what the agent needs from a compute target to place runs on nodes.

A backend is built from a target's stored config and state, changes only its in-memory
state, and the agent persists ``state()`` afterwards (the agent is the only process that
changes node state, so SDK readers always see what the agent decided). Implementations:
``local.LocalClusterBackend`` (slots on this machine); Ray comes with the scale-out issue.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Placement:
    """The answer to "may this run start now?"."""

    node_id: str | None  # the node the run got, or None: it waits
    scaling: str | None = None  # a 'Scaling: ...' line when the request made the target grow


class ComputeBackend(abc.ABC):
    """One compute target's nodes, as the agent's scheduler sees them."""

    def __init__(self, name: str, config: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        self.name = name
        self.config = dict(config)

    @property
    def max_nodes(self) -> int:
        """The most nodes the target may grow to (v1's max_nodes)."""
        return int(self.config.get("max_nodes", 0))

    @abc.abstractmethod
    def acquire_node(self, run_id: str, now: float) -> Placement:
        """A node for the run, or None with the target scaled up when it may grow."""

    @abc.abstractmethod
    def release_node(self, node_id: str, now: float) -> None:
        """The run on that node ended; the node becomes idle."""

    @abc.abstractmethod
    def tick(self, now: float, waiting: Collection[str], running: Collection[str]) -> None:
        """Advances nodes (preparing -> idle), frees nodes whose run is not in ``running``
        (it ended), drops reservations of runs no longer in ``waiting``, keeps min_nodes,
        and scales idle nodes down to min_nodes after their idle time."""

    @abc.abstractmethod
    def nodes(self) -> list[dict[str, Any]]:
        """v1's ``list_nodes()`` items: nodeId, port, privateIpAddress, publicIpAddress,
        nodeState, runId."""

    @abc.abstractmethod
    def status(self) -> dict[str, Any]:
        """The target's live fields with v1's status keys (currentNodeCount, ...)."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """What to persist (the store's ``state`` of the target)."""

    @abc.abstractmethod
    def needs_agent(self) -> bool:
        """True while the target will change on its own (nodes to scale down or start)."""
