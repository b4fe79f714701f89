"""A distributed run inside the agent: its nodes' jobs, its ranks' spools and logs, and the
error that names the rank that failed.

``ranks.plan`` (in _compute) decides what each rank is told; here the run's own paths are
filled in: each rank's driver log (``azureml-logs/70_driver_log_<rank>.txt``) and metric
spool (``spool.<rank>.bin`` beside the job's ``spool.bin``, which rank 0 writes), and each
node's status file. The supervisor launches the nodes' jobs as one gang
(``gang.launch_gang``) and ingests every rank's spool into the one run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._compute import ranks
from runyard._compute.base import ComputeBackend, JobSpec
from runyard._compute.job_wrapper import read_status_rank
from runyard._entities import RunError
from runyard._services import Services
from runyard._services.driver_log import DRIVER_LOG_NAME, log_file
from runyard._services.job_results import SpoolIngester
from runyard._services.run_errors import failure_error

_RANK_SPOOL = re.compile(r"spool\.(\d+)\.bin$")


def spool_name(rank: int) -> str:
    """The name a rank's spool offset is kept under in the store (rank 0: the run's)."""
    return f"rank{rank}"


def node_status_file(job_dir: Path, node: int, first: Path) -> Path:
    """Each node's wrapper records its exit status in its own file; node 0 in the job's."""
    return first if node == 0 else first.with_name(f"{first.stem}.{node}{first.suffix}")


def node_jobs(
    services: Services,
    backend: ComputeBackend,
    job: JobSpec,
    dist: ranks.Distribution,
) -> list[JobSpec]:
    """One JobSpec per node of the run (``job.node_id``: the gang's ids, node 0 first)."""
    node_ids = (job.node_id or "").split(",") if job.node_id else []
    if len(node_ids) != dist.node_count:  # the 'local' target: one slot, one node
        node_ids = [job.node_id or "local"] * dist.node_count
    hosts = backend.node_addresses(node_ids)
    ports = ranks.free_ports(hosts[0], ranks.ports_needed(dist))
    pmi_port = ports[-1] if dist.kind == ranks.MPI else None
    task_ports = ports[1 : 1 + dist.world_size] if dist.kind == ranks.TENSORFLOW else ()
    layout = ranks.plan(dist, hosts, master_port=ports[0], task_ports=task_ports, pmi_port=pmi_port)
    spool = job.env[_jobenv.SPOOL]
    assert job.status_file is not None
    jobs = []
    for node, node_ranks in enumerate(layout):
        filled = tuple(
            dataclasses.replace(
                rank,
                env={**rank.env, _jobenv.SPOOL: ranks.spool_of_rank(spool, rank.rank)},
                log=str(log_file(services, job.run_id, ranks.RANK_LOG.format(rank=rank.rank))),
            )
            for rank in node_ranks
        )
        for rank in filled[1:] if node == 0 else filled:
            Path(rank.env[_jobenv.SPOOL]).touch()
        pmi = None
        if node == 0 and pmi_port is not None:
            pmi = ranks.pmi_server(dist, hosts[0], pmi_port)
        jobs.append(
            dataclasses.replace(
                job,
                node_id=node_ids[node],
                ranks=filled,
                pmi=pmi,
                status_file=node_status_file(job.status_file.parent, node, job.status_file),
            )
        )
    return jobs


def rank_ingesters(services: Services, run_id: str, spool: Path) -> list[SpoolIngester]:
    """An ingester for each rank's own spool after rank 0's (which is the run's)."""
    found = []
    for path in sorted(spool.parent.glob("spool.*.bin")):
        match = _RANK_SPOOL.search(path.name)
        if match:
            name = spool_name(int(match.group(1)))
            found.append(SpoolIngester(services, run_id, path, spool=name))
    return found


def rank_failure(
    services: Services,
    info_definition: Mapping[str, Any],
    run_id: str,
    job_dir: Path,
    status_file: Path,
    code: int,
    failed_node: int | None,
) -> RunError:
    """The run's error when one of its ranks failed: which rank, on which node, its code
    and the last lines of that rank's own driver log."""
    node = failed_node or 0
    rank = read_status_rank(node_status_file(job_dir, node, status_file))
    script = str(info_definition.get("script", "?"))
    if rank is None:
        return failure_error(script, code, log_file(services, run_id, DRIVER_LOG_NAME))
    name = ranks.RANK_LOG.format(rank=rank)
    error = failure_error(script, code, log_file(services, run_id, name))
    first, _, rest = error.message.partition(". ")
    first = first.replace(f"The script {script!r}", f"Rank {rank} (node {node}) of {script!r}")
    rest = rest.replace("azureml-logs/70_driver_log.txt", f"azureml-logs/{name}")
    message = f"{first}; the run's other ranks were stopped. {rest}"
    return dataclasses.replace(error, message=message)
