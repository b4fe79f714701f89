"""Distributed runs: how many processes go where, and what each one is told.

v1's run definition says how a run is distributed (``communicator``, ``nodeCount`` and its
``mpi`` / ``pyTorch`` / ``tensorflow`` sections, as ScriptRunConfig and the estimators
write them). ``distribution_of`` reads it; ``plan`` lays the ranks out over the run's nodes
and gives each the variables the frameworks read. Both are pure: the addresses and ports
come in as arguments (``free_ports`` picks ports on this machine), so every backend (the
local slots, Ray) computes the same ranks from the same inputs, and each node's wrapper
starts and supervises that node's ranks (``JobSpec.ranks``).

What each rank gets, as v1's runtime sets it:
- every kind: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
  NODE_RANK, AZ_BATCH_MASTER_NODE (``host:port``) and AZ_BATCHAI_MPI_MASTER_NODE (``host``);
- MPI: OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK / _LOCAL_SIZE / _NODE_RANK, PMI_RANK,
  PMI_SIZE, and PMI_PORT / PMI_ID, which make MPICH's PMI-1 client (mpi4py on the PyPI
  ``mpich`` wheel) join the world the first node's wrapper serves (``rank_wrapper``);
- TensorFlow parameter-server jobs: TF_CONFIG, v1's JSON ``{"cluster": {"ps": [...],
  "worker": [...]}, "task": {"type": ..., "index": ...}, "environment": "cloud"}``.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runyard.exceptions import UserErrorException

MPI, PYTORCH, TENSORFLOW = "mpi", "pytorch", "tensorflow"
_MPI_COMMUNICATORS = ("intelmpi", "openmpi", "mpi")
_PYTORCH_COMMUNICATORS = ("nccl", "gloo")
RANK_LOG = "70_driver_log_{rank}.txt"  # v1's per-rank driver logs, in azureml-logs/
MPI_PACKAGES = ("mpich", "mpi4py")  # added to an MPI run's environment (no system MPI)


@dataclass(frozen=True, slots=True)
class Distribution:
    """How a run is spread: ``per_node[k]`` processes on node k."""

    kind: str  # MPI, PYTORCH or TENSORFLOW
    node_count: int
    process_count_per_node: int = 1  # MPI and PyTorch
    worker_count: int = 0  # TensorFlow
    parameter_server_count: int = 0  # TensorFlow
    backend: str | None = None  # PyTorch's 'gloo' / 'nccl'

    @property
    def world_size(self) -> int:
        if self.kind == TENSORFLOW:
            return self.worker_count + self.parameter_server_count
        return self.node_count * self.process_count_per_node

    def roles(self) -> list[tuple[int, str, int]]:
        """(node rank, role, index in role) of every rank, in rank order: TensorFlow's
        workers first (worker i on node i mod node_count), then its parameter servers."""
        if self.kind != TENSORFLOW:
            ppn = self.process_count_per_node
            return [(r // ppn, "worker", r) for r in range(self.world_size)]
        workers = [(i % self.node_count, "worker", i) for i in range(self.worker_count)]
        servers = [(i % self.node_count, "ps", i) for i in range(self.parameter_server_count)]
        return workers + servers


@dataclass(frozen=True, slots=True)
class RankSpec:
    """One process of a distributed job: its rank, the variables it gets on top of the
    job's environment, and the file its stdout and stderr go to (``tee``: also to the
    job's driver log, which show_output streams)."""

    rank: int
    env: Mapping[str, str] = field(default_factory=dict)
    log: str = ""  # a path on the node; the backend fills it in (``with_logs``)
    tee: bool = False


@dataclass(frozen=True, slots=True)
class PmiServer:
    """The MPI world's PMI-1 server, run by the wrapper of the run's first node."""

    host: str
    port: int
    size: int
    mapping: str  # PMI_process_mapping: which ranks share a node


def _count(definition: Mapping[str, Any], section: str, key: str, default: int) -> int:
    value = (definition.get(section) or {}).get(key)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserErrorException(
            f"{section}.{key}={value!r} in the run configuration is not a count; set it to an "
            "integer >= 1 (e.g. MpiConfiguration(process_count_per_node=2))."
        )
    return value


def distribution_of(definition: Mapping[str, Any]) -> Distribution | None:
    """The run's distribution, or None for a single-process run.

    Raises:
        UserErrorException: the counts do not fit together, or the communicator is unknown.
    """
    communicator = str(definition.get("communicator") or "None")
    nodes = definition.get("nodeCount") or 1
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise UserErrorException(
            f"node_count={nodes!r} is not valid; pass an integer >= 1 (e.g. "
            "MpiConfiguration(node_count=2))."
        )
    name = communicator.lower()
    if name == "none":
        if nodes > 1:
            raise UserErrorException(
                f"node_count={nodes} needs a distributed configuration: pass "
                "distributed_job_config=MpiConfiguration(...), PyTorchConfiguration(...) or "
                "TensorflowConfiguration(...) to ScriptRunConfig, or set node_count=1."
            )
        return None
    if name in _MPI_COMMUNICATORS:
        ppn = _count(definition, "mpi", "processCountPerNode", 1)
        return Distribution(MPI, nodes, max(ppn, 1))
    if name in _PYTORCH_COMMUNICATORS:
        total = _count(definition, "pyTorch", "processCount", nodes) or nodes
        if total % nodes:
            raise UserErrorException(
                f"PyTorchConfiguration(process_count={total}, node_count={nodes}): the "
                "processes are spread evenly over the nodes, so process_count must be a "
                f"multiple of node_count (e.g. process_count={nodes * max(1, total // nodes)})."
            )
        return Distribution(PYTORCH, nodes, total // nodes, backend=name)
    if name == "parameterserver":
        workers = _count(definition, "tensorflow", "workerCount", nodes)
        servers = _count(definition, "tensorflow", "parameterServerCount", 1)
        if workers < 1:
            raise UserErrorException(
                "TensorflowConfiguration(worker_count=0): a TensorFlow job needs at least one "
                "worker; pass worker_count >= 1."
            )
        return Distribution(TENSORFLOW, nodes, worker_count=workers, parameter_server_count=servers)
    raise UserErrorException(
        f"communicator={communicator!r} is not supported here; distributed runs use "
        "MpiConfiguration (IntelMpi/OpenMpi/Mpi), PyTorchConfiguration (Nccl/Gloo) or "
        "TensorflowConfiguration (ParameterServer)."
    )


def node_count_of(definition: Mapping[str, Any]) -> int:
    """How many nodes the run takes at once (1 for a single-process run)."""
    dist = distribution_of(definition)
    return 1 if dist is None else dist.node_count


def plan(
    dist: Distribution,
    hosts: Sequence[str],
    *,
    master_port: int,
    task_ports: Sequence[int] = (),
    pmi_port: int | None = None,
) -> list[tuple[RankSpec, ...]]:
    """Each node's ranks (``hosts[k]``: node k's address) with their variables. TensorFlow
    needs one port per task (``task_ports``, in rank order); MPI the PMI server's port."""
    if len(hosts) != dist.node_count:
        raise ValueError(f"{dist.node_count} nodes, {len(hosts)} hosts")
    roles = dist.roles()
    on_node: list[list[int]] = [[] for _ in hosts]
    for rank, (node, _, _) in enumerate(roles):
        on_node[node].append(rank)
    master = hosts[0]
    common = {
        "MASTER_ADDR": master,
        "MASTER_PORT": str(master_port),
        "WORLD_SIZE": str(dist.world_size),
        "AZ_BATCH_MASTER_NODE": f"{master}:{master_port}",
        "AZ_BATCHAI_MPI_MASTER_NODE": master,
    }
    tf_cluster = _tf_cluster(dist, hosts, task_ports) if dist.kind == TENSORFLOW else None
    nodes: list[tuple[RankSpec, ...]] = []
    for node, ranks in enumerate(on_node):
        specs = []
        for local, rank in enumerate(ranks):
            env = dict(common)
            env.update(
                RANK=str(rank),
                LOCAL_RANK=str(local),
                LOCAL_WORLD_SIZE=str(len(ranks)),
                NODE_RANK=str(node),
            )
            if dist.kind == MPI:
                env.update(_mpi_env(dist, rank, local, len(ranks), node, master, pmi_port))
            if tf_cluster is not None:
                _, role, index = roles[rank]
                task = {"type": role, "index": index}
                env["TF_CONFIG"] = json.dumps(
                    {"cluster": tf_cluster, "task": task, "environment": "cloud"}
                )
            specs.append(RankSpec(rank=rank, env=env, tee=rank == 0))
        nodes.append(tuple(specs))
    return nodes


def _mpi_env(
    dist: Distribution, rank: int, local: int, local_size: int, node: int, master: str,
    pmi_port: int | None,
) -> dict[str, str]:  # fmt: skip
    if pmi_port is None:
        raise ValueError("an MPI plan needs the PMI server's port")
    size = str(dist.world_size)
    return {
        "OMPI_COMM_WORLD_RANK": str(rank),
        "OMPI_COMM_WORLD_SIZE": size,
        "OMPI_COMM_WORLD_LOCAL_RANK": str(local),
        "OMPI_COMM_WORLD_LOCAL_SIZE": str(local_size),
        "OMPI_COMM_WORLD_NODE_RANK": str(node),
        "PMI_RANK": str(rank),
        "PMI_SIZE": size,
        "PMI_ID": str(rank),
        "PMI_PORT": f"{master}:{pmi_port}",
        "MPI_LOCALRANKID": str(local),
        "MPI_LOCALNRANKS": str(local_size),
    }


def _tf_cluster(
    dist: Distribution, hosts: Sequence[str], ports: Sequence[int]
) -> dict[str, list[str]]:
    roles = dist.roles()
    if len(ports) != len(roles):
        raise ValueError(f"{len(roles)} TensorFlow tasks, {len(ports)} ports")
    cluster: dict[str, list[str]] = {"worker": []}
    if dist.parameter_server_count:
        cluster["ps"] = []
    for (node, role, _), port in zip(roles, ports, strict=True):
        cluster[role].append(f"{hosts[node]}:{port}")
    return cluster


def pmi_server(dist: Distribution, host: str, port: int) -> PmiServer:
    """The PMI server of an MPI plan; its process mapping tells MPICH which ranks share a
    node (``(vector,(first node,nodes,ranks per node))``)."""
    mapping = f"(vector,(0,{dist.node_count},{dist.process_count_per_node}))"
    return PmiServer(host=host, port=port, size=dist.world_size, mapping=mapping)


def ports_needed(dist: Distribution) -> int:
    """How many free ports a plan takes: MASTER_PORT, one per TensorFlow task, PMI's."""
    return 1 + (dist.world_size if dist.kind == TENSORFLOW else 0) + (dist.kind == MPI)


def spool_of_rank(spool: str, rank: int) -> str:
    """Each rank writes its own metric spool (a spool has one writer): rank 0 the job's."""
    if rank == 0:
        return spool
    stem, dot, suffix = spool.rpartition(".")
    return f"{stem}.{rank}.{suffix}" if dot else f"{spool}.{rank}"


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports nothing listens on at ``host`` now (not pure: it asks the OS;
    a port may be taken again before its user binds it, as with torchrun's own choice).
    A ``host`` of another machine (a Ray node) cannot be asked from here: the ports are then
    ones free on this machine, taken from the OS's ephemeral range, likely free there too."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(sock)
            try:
                sock.bind((host, 0))
            except OSError:  # not an address of this machine
                host = "127.0.0.1"
                sock.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
