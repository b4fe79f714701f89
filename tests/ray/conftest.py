"""One real Ray cluster for the whole test session (tests/ray_cluster.py, docs/ray.md): a head
with no CPUs and two 1-CPU worker nodes, in a private network namespace that has only `lo`.

This folder has no __init__.py on purpose: as a package it would be importable as `ray`
(pytest puts tests/ on sys.path) and hide the real Ray.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from ray_cluster import NO_RAY, RayCluster, RayClusterError

# The head marks a silent node dead after 3 missed 1 s checks (~5 s), not Ray's 5 x 3 s.
FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000"}
FAST_HEALTH_CHECKS["RAY_health_check_failure_threshold"] = "3"


def import_ray() -> ModuleType:
    """Ray, or a skip (see test_ray_cluster.py for why two imports)."""
    ray = pytest.importorskip("ray", reason=NO_RAY)
    pytest.importorskip("ray.job_submission", reason=NO_RAY)
    return ray


def offline_builds(uv_cache_dir: Path) -> dict[str, str]:
    """The namespace has no route to the package registries: builds there (the agent's, and
    each Ray node's own) use the session's uv cache only, which the local-cluster tests
    filled with the same packages before (tests/compute runs first)."""
    return {"UV_CACHE_DIR": str(uv_cache_dir), "UV_OFFLINE": "1"}


@pytest.fixture(scope="session")
def ray_cluster(uv_cache_dir: Path) -> Iterator[RayCluster]:
    import_ray()
    cluster = RayCluster(env={**FAST_HEALTH_CHECKS, **offline_builds(uv_cache_dir)})
    try:
        cluster.start(head_num_cpus=0, workers=[{"num_cpus": 1}, {"num_cpus": 1}])
    except RayClusterError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI=true and Ray is installed, so the Ray tests must run, not skip, but the "
                f"local cluster did not start (run as root with iproute2): {exc}",
                pytrace=False,
            )
        pytest.skip(f"no local Ray cluster: {exc}")
    try:
        yield cluster
    finally:
        nodes = [cluster.head_node_id, *(w.node_id for w in cluster.workers)]
        cluster.stop()
        # What the session's Ray nodes kept on this machine (ray_node.node_root): their jobs'
        # folders and environment caches; node ids are new in every session.
        for node_id in filter(None, nodes):
            shutil.rmtree(Path(tempfile.gettempdir(), "runyard-ray", node_id[:12]), True)


@pytest.fixture(scope="session")
def ray_driver(ray_cluster: RayCluster) -> Iterator[ModuleType]:
    """Ray, connected to the session's cluster (ray.init inside its namespace)."""
    ray = import_ray()
    with ray_cluster.inside():
        ray.init(address=ray_cluster.address)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def in_cluster(ray_cluster: RayCluster) -> Iterator[None]:
    """Runs the test body's sockets in the cluster's namespace (Jobs API clients make a
    connection per call; the calling thread's namespace decides where it goes)."""
    with ray_cluster.inside():
        yield


@pytest.fixture
def on_ray(
    ray_cluster: RayCluster, in_cluster: None, monkeypatch: pytest.MonkeyPatch
) -> RayCluster:
    """The test body in the cluster's namespace, with RUNYARD_RAY_ADDRESS naming it: every
    AmlCompute cluster of the test's workspace runs on Ray."""
    monkeypatch.setenv("RUNYARD_RAY_ADDRESS", ray_cluster.address)
    return ray_cluster
