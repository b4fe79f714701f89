"""The local Ray cluster (tests/ray_cluster.py) does what Runyard on Ray (issue 12) relies on:
a head that runs no tasks, gang placement across worker nodes, the Jobs API with its logs
and stop, a lost node seen by the driver, and traffic that stays on the namespace's loopback."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType

import pytest
from ray_cluster import NO_RAY, RayCluster, running

ray = pytest.importorskip("ray", reason=NO_RAY)
# Without Ray, `import ray` finds this folder as a namespace package; this import then skips.
pytest.importorskip("ray.job_submission", reason=NO_RAY)
from ray.job_submission import JobStatus, JobSubmissionClient  # noqa: E402
from ray.util.placement_group import (  # noqa: E402
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # noqa: E402


def _alive_nodes(ray: ModuleType) -> tuple[str, set[str]]:
    """(head node id, alive worker node ids), as the driver sees them."""
    alive = [n for n in ray.nodes() if n["Alive"]]
    head = next(n["NodeID"] for n in alive if "node:__internal_head__" in n["Resources"])
    return head, {n["NodeID"] for n in alive if n["NodeID"] != head}


Wait = Callable[..., object]


@ray.remote(num_cpus=1)
def node_of_task() -> str:
    return ray.get_runtime_context().get_node_id()


@ray.remote(num_cpus=0)
class Pinned:
    def pid(self) -> int:
        return os.getpid()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def test_head_has_no_cpus_and_ray_status_lists_every_node(
    ray_driver: ModuleType, ray_cluster: RayCluster, wait_until: Wait
) -> None:
    head, workers = _alive_nodes(ray_driver)
    resources = {n["NodeID"]: n["Resources"] for n in ray_driver.nodes()}
    assert "CPU" not in resources[head] and len(workers) == 2
    assert all(resources[w]["CPU"] == 1 for w in workers)

    def listed() -> bool:  # `ray status` shows the autoscaler's view, seconds behind the GCS
        return all(f"node_{node}" in ray_cluster.status() for node in {head, *workers})

    wait_until(listed, 60, "ray status to list the head and both workers")


def test_tasks_never_land_on_the_head(ray_driver: ModuleType) -> None:
    head, workers = _alive_nodes(ray_driver)
    nodes = set(ray_driver.get([node_of_task.remote() for _ in range(8)], timeout=60))
    assert head not in nodes and nodes <= workers


def test_strict_spread_places_one_bundle_per_worker_node(ray_driver: ModuleType) -> None:
    _, workers = _alive_nodes(ray_driver)
    group = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    try:
        ray_driver.get(group.ready(), timeout=60)
        placed = placement_group_table(group)["bundles_to_node_id"]
        ran = ray_driver.get(
            [
                node_of_task.options(
                    scheduling_strategy=PlacementGroupSchedulingStrategy(group, i)
                ).remote()
                for i in range(2)
            ],
            timeout=60,
        )
    finally:
        remove_placement_group(group)
    assert set(placed.values()) == workers and ran == [placed[0], placed[1]]


def test_a_third_strict_spread_bundle_waits_for_a_node(ray_driver: ModuleType) -> None:
    group = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
    try:
        assert not group.wait(timeout_seconds=1)  # the head's 0 CPUs take no bundle
        assert placement_group_table(group)["state"] == "PENDING"
    finally:
        remove_placement_group(group)


# Ray 2.60's tail_job_logs passes ssl=None to aiohttp >= 3.14's ws_connect
@pytest.mark.filterwarnings("ignore:ssl=None is deprecated:DeprecationWarning")
@pytest.mark.usefixtures("in_cluster")
def test_job_runs_on_a_worker_and_its_log_streams_once_in_order(
    ray_driver: ModuleType, ray_cluster: RayCluster, wait_until: Wait
) -> None:
    _, workers = _alive_nodes(ray_driver)
    jobs = JobSubmissionClient(ray_cluster.dashboard_url)
    script = (
        "import time\nfor i in range(40):\n    print('line', i, flush=True)\n    time.sleep(0.02)"
    )
    job = jobs.submit_job(entrypoint=_python(script), entrypoint_num_cpus=1)

    async def tail() -> str:
        return "".join([chunk async for chunk in jobs.tail_job_logs(job)])

    streamed = asyncio.run(tail())
    assert re.findall(r"^line (\d+)$", streamed, re.M) == [str(i) for i in range(40)], streamed
    assert wait_until(lambda: jobs.get_job_status(job).is_terminal(), 30, "the job to end")
    info = jobs.get_job_info(job)
    assert info.status == JobStatus.SUCCEEDED and info.driver_node_id in workers
    assert jobs.get_job_logs(job) == streamed


@pytest.mark.usefixtures("in_cluster")
def test_stop_job_ends_the_entrypoint_and_its_children(
    ray_cluster: RayCluster, wait_until: Wait
) -> None:
    jobs = JobSubmissionClient(ray_cluster.dashboard_url)
    script = (
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "print('pids', os.getpid(), child.pid, flush=True)\n"
        "time.sleep(300)"
    )
    job = jobs.submit_job(entrypoint=_python(script), entrypoint_num_cpus=1)
    pids = wait_until(
        lambda: re.search(r"^pids (\d+) (\d+)$", jobs.get_job_logs(job), re.M), 60, "pids"
    )
    assert jobs.stop_job(job)
    assert wait_until(lambda: jobs.get_job_status(job).is_terminal(), 30, "the job to stop")
    assert jobs.get_job_status(job) == JobStatus.STOPPED
    for pid in map(int, pids.groups()):
        wait_until(lambda pid=pid: not running(pid), 10, f"pid {pid} to end")


def _python(script: str) -> str:
    """A job entrypoint running script with this interpreter (`python` on PATH may be another)."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"


def test_a_killed_worker_is_marked_dead_and_a_replacement_joins(
    ray_driver: ModuleType, ray_cluster: RayCluster, wait_until: Wait
) -> None:
    victim = next(w for w in ray_cluster.workers if w.alive)
    actor = Pinned.options(resources={victim.resource: 1}, max_restarts=0).remote()
    pid = ray_driver.get(actor.pid.remote(), timeout=60)
    sleeping = actor.sleep.remote(300)

    dead = ray_cluster.kill_worker(victim.index)

    assert dead == victim.node_id and not running(pid)
    # the call in flight fails at once, as "unavailable" (it may or may not have run) ...
    with pytest.raises(ray_driver.exceptions.RayActorError):
        ray_driver.get(sleeping, timeout=60)
    assert ray_cluster.wait_node_dead(dead)["state"] == "DEAD"
    # ... and once the head has marked the node dead, the actor is dead, naming the node
    with pytest.raises(
        ray_driver.exceptions.ActorDiedError, match=f"node has died. Node Id: {dead}"
    ):
        ray_driver.get(actor.pid.remote(), timeout=60)
    seen = wait_until(
        lambda: [n for n in ray_driver.nodes() if n["NodeID"] == dead and not n["Alive"]],
        10,
        f"the driver to see node {dead} dead",
    )
    assert "health check failed" in seen[0]["DeathReasonMessage"]
    spare = ray_cluster.add_worker({"num_cpus": 1})
    pinned = node_of_task.options(resources={spare.resource: 1})
    assert ray_driver.get(pinned.remote(), timeout=60) == spare.node_id
    assert len(_alive_nodes(ray_driver)[1]) == 2


def test_the_cluster_listens_only_on_loopback(ray_cluster: RayCluster) -> None:
    links = ray_cluster.run(["ip", "-o", "link"]).stdout.splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    listening = ray_cluster.run(["ss", "-ltnH"]).stdout.split("\n")
    local = {line.split()[3].rpartition(":")[0] for line in listening if line.strip()}
    assert local and local <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}, local


def test_loopback_inside_and_outside_are_separate(ray_cluster: RayCluster) -> None:
    with socket.create_server(("127.0.0.1", 0)) as outside:
        port = outside.getsockname()[1]
        with ray_cluster.inside(), pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    with ray_cluster.inside():
        inside = socket.create_server(("127.0.0.1", port))
    with inside, pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_expose_outer_port_forwards_from_inside_to_outside(ray_cluster: RayCluster) -> None:
    with socket.create_server(("127.0.0.1", 0)) as outside:
        port = outside.getsockname()[1]
        threading.Thread(target=_echo_once, args=(outside,), daemon=True).start()
        forward = ray_cluster.expose_outer_port(port)
        with forward, ray_cluster.inside(), socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"ping")
            conn.shutdown(socket.SHUT_WR)
            assert conn.recv(16) == b"ping"


def test_postgresql_outside_is_reached_inside_only_through_expose_outer_port(
    ray_cluster: RayCluster,
) -> None:
    psycopg2 = pytest.importorskip("psycopg2")
    server = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        psycopg2.connect(server, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {server} is unreachable from outside too: {exc}")
    with ray_cluster.inside(), pytest.raises(psycopg2.OperationalError, match="refused"):
        psycopg2.connect(server, connect_timeout=3)
    with ray_cluster.expose_outer_port(5432), ray_cluster.inside():
        with psycopg2.connect(server, connect_timeout=3) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        conn.close()


def _echo_once(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        while data := conn.recv(16):
            conn.sendall(data)


def test_stop_ends_every_process_and_removes_the_namespace() -> None:
    cluster = RayCluster(timeout=120)
    try:
        cluster.start(workers=[])
        assert cluster.namespace is not None and cluster.temp_dir is not None
        namespace, temp_dir, pids = cluster.namespace, cluster.temp_dir, cluster.namespace.pids()
        assert len(pids) > 3
    finally:
        cluster.stop()
    assert not namespace.path.exists() and not temp_dir.exists()
    assert not [pid for pid in pids if running(pid)]
