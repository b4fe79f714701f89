"""The compute seam: what the agent needs from a compute target to run jobs on its nodes.

A ``ComputeBackend`` does two things:
- **node accounting**: it is built from a target's stored config and state, changes only its
  in-memory state, and the agent persists ``state()`` afterwards (the agent is the only
  process that changes node state, so SDK readers always see what the agent decided);
- **jobs**: ``launch(JobSpec)`` starts a prepared job on a node and returns a ``JobHandle``
  that can be polled, waited on and cancelled (every process of the job, on every node);
  ``reattach(run_id, JobRef)`` gives the handle back from what was persisted, after an agent
  restart.

The agent prepares everything a job needs in local paths (``JobSpec``: working copy, spool,
driver log). A backend whose processes live on another machine copies the working copy there
and brings the spool, the driver log and ``./logs`` / ``./outputs`` back into those same
paths in ``JobHandle.sync()``, so the supervisor never knows where a job runs.
Implementations: ``local.LocalMachineBackend`` (the 'local' target),
``local.LocalClusterBackend`` (AmlCompute nodes as slots of this machine),
``ray_backend.RayBackend`` (a Ray cluster: attached, or a workspace's AmlCompute clusters).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard._compute.ranks import PmiServer, RankSpec
from runyard._entities import JobRef

# The most tries of one run (its first and its retries after lost nodes): a backend names
# each try's processes apart (Ray's actors), and max_retries is checked against it.
MAX_ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class Placement:
    """The answer to "may this run start now?"."""

    node_id: str | None  # the node the run got, or None: it waits
    scaling: str | None = None  # a 'Scaling: ...' line when the request made the target grow


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A prepared job: everything is in place on the agent's machine."""

    run_id: str
    argv: tuple[str, ...]  # interpreter, entry script, arguments
    cwd: Path  # the materialized snapshot (the job's working copy)
    env: Mapping[str, str]  # the whole environment of the job's process
    driver_log: Path  # stdout and stderr are appended here, live
    node_id: str | None = None  # the node placement gave it (None on the 'local' target)
    # Where the job's exit status is recorded durably when it ends (read by a later agent if
    # this one dies); a remote backend brings it back in sync().
    status_file: Path | None = None
    # One node of a distributed run: the wrapper starts each rank (argv with the rank's
    # variables and log; see ranks.plan) and supervises them; the run's first node also
    # serves its MPI world (pmi).
    ranks: tuple[RankSpec, ...] = ()
    pmi: PmiServer | None = None
    # The run's environment definition (as built), for a backend whose nodes build it in
    # their own cache (Ray); None when the job runs with the agent's interpreter.
    environment: Mapping[str, Any] | None = None
    # 0 for the run's first try; n for its n-th retry after its node was lost (< MAX_ATTEMPTS).
    attempt: int = 0


class JobHandle(abc.ABC):
    """A launched job. Every method may be called from the supervisor's thread only."""

    @property
    @abc.abstractmethod
    def ref(self) -> JobRef:
        """What to persist so that ``ComputeBackend.reattach`` finds the job again."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> int | None:
        """Waits up to ``timeout`` seconds; the exit code once the job ended (negative: the
        signal that killed it), else None. A reattached job's exit code may be unknown:
        then None, and ``running()`` says whether it still runs."""

    @abc.abstractmethod
    def running(self) -> bool:
        """True while any process of the job is alive."""

    @abc.abstractmethod
    def cancel(self, *, force: bool = False) -> None:
        """Asks every process of the job to stop (SIGTERM), or kills them (``force``),
        detached descendants included. Returns at once; safe when the job has ended."""

    def placement(self) -> list[dict[str, Any]]:
        """Where the job runs, one item per node, for the run's details ([] where there is
        nothing more to say than the target: this machine)."""
        return []

    def lost_node(self) -> str | None:
        """Why the job ended without an exit status of its own because its node was lost
        (a sentence naming the node), else None (it ended, was canceled, or runs)."""
        return None

    def sync(self) -> None:  # noqa: B027 - optional: a no-op where the files are shared
        """Brings the job's spool, driver log, ./logs and ./outputs up to date in the paths
        of its JobSpec (a remote backend pulls them over its channel)."""


class ComputeBackend(abc.ABC):
    """One compute target: its nodes, as the agent's scheduler sees them, and its jobs."""

    # True: a run prepares its environment first and then waits Queued for a node (v1's
    # cluster order); False: a run holds its slot from Preparing to its end (the 'local'
    # target).
    queues_for_node: bool = True
    # True: a run's nodes hold resources outside this agent (a Ray placement group) until
    # released; the supervisor releases them as soon as the job has ended, not at the agent's
    # next tick (an agent stopped right after a run would leave them held).
    release_at_job_end: bool = False

    def __init__(self, name: str, config: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        self.name = name
        self.config = dict(config)

    @property
    def max_nodes(self) -> int:
        """The most nodes the target may grow to (v1's max_nodes)."""
        return int(self.config.get("max_nodes", 0))

    # ---- jobs ----------------------------------------------------------------------------
    @abc.abstractmethod
    def launch(self, job: JobSpec) -> JobHandle:
        """Starts the job on ``job.node_id``.

        Raises:
            OSError: the job's process could not be started.
        """

    @abc.abstractmethod
    def reattach(self, run_id: str, ref: JobRef) -> JobHandle:
        """The handle of the run's job launched by an earlier agent (it may have ended)."""

    # ---- node accounting -----------------------------------------------------------------
    @abc.abstractmethod
    def acquire_node(self, run_id: str, now: float, count: int = 1) -> Placement:
        """A node for the run, or None with the target scaled up when it may grow.
        ``count`` > 1: a distributed run takes that many nodes at once (a gang) or none;
        its ``node_id`` is then their ids joined by commas, node 0 first."""

    @abc.abstractmethod
    def release_node(self, node_id: str, now: float) -> None:
        """The run on that node ended; the node becomes idle."""

    @abc.abstractmethod
    def tick(self, now: float, waiting: Collection[str], running: Collection[str]) -> None:
        """Advances nodes (preparing -> idle), frees nodes whose run is not in ``running``
        (it ended), drops reservations of runs no longer in ``waiting``, keeps min_nodes,
        and scales idle nodes down to min_nodes after their idle time."""

    def node_addresses(self, node_ids: Sequence[str]) -> list[str]:
        """The address of each node (a distributed run's MASTER_ADDR and hosts), as
        ``nodes()`` lists them; 127.0.0.1 for a node it does not list (this machine)."""
        known = {str(n.get("nodeId")): n.get("privateIpAddress") for n in self.nodes()}
        return [str(known.get(node) or "127.0.0.1") for node in node_ids]

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
