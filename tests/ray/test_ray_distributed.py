"""Distributed training on the session's Ray cluster: the tests of
tests/compute/test_distributed_training.py (ChainerMN over MPI, PyTorch DDP over gloo, the
distributed-chainer notebook's script) with its AmlCompute cluster on Ray. Each run's two
nodes are a STRICT_SPREAD placement group: one on each worker, which builds the run's
environment in its own cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import import_ray, offline_builds

from tests.compute.test_distributed_training import (  # the same tests, run on Ray here
    Cluster,
    chainermn_run,
    ddp_run,
    test_chainermn_on_two_nodes_completes_with_every_rank_logging_into_the_run,
    test_chainermn_parameters_agree_across_ranks_after_the_allreduce,
    test_chainermn_ranks_have_their_own_driver_logs,
    test_ddp_on_two_nodes_completes_with_every_rank_logging_into_the_run,
    test_ddp_parameters_agree_across_ranks_after_the_allreduce,
    test_ddp_ranks_have_their_own_driver_logs,
    test_mpi_run_gets_the_mpich_wheel_and_mpi4py_added_to_its_environment,
    test_the_distributed_chainer_notebooks_script_trains_on_cpu_nodes_with_gpu_off,
)

import_ray()
pytestmark = pytest.mark.timeout(900)  # each Ray node builds the environments once

__all__ = [
    "chainermn_run",
    "ddp_run",
    "test_chainermn_on_two_nodes_completes_with_every_rank_logging_into_the_run",
    "test_chainermn_parameters_agree_across_ranks_after_the_allreduce",
    "test_chainermn_ranks_have_their_own_driver_logs",
    "test_ddp_on_two_nodes_completes_with_every_rank_logging_into_the_run",
    "test_ddp_parameters_agree_across_ranks_after_the_allreduce",
    "test_ddp_ranks_have_their_own_driver_logs",
    "test_mpi_run_gets_the_mpich_wheel_and_mpi4py_added_to_its_environment",
    "test_the_distributed_chainer_notebooks_script_trains_on_cpu_nodes_with_gpu_off",
]


@pytest.fixture(scope="module")
def cluster(
    ray_cluster,
    tmp_path_factory: pytest.TempPathFactory,
    persistent_envs_dir: Path,
    uv_cache_dir: Path,
) -> Iterator[Cluster]:
    """A workspace whose AmlCompute clusters run on the session's Ray cluster; the module's
    tests run in the cluster's namespace (so the agent they start is a driver there)."""
    from runyard._services import close_all
    from runyard._services.agent_client import stop_agent
    from runyard.core import Workspace
    from runyard.core.compute import AmlCompute, ComputeTarget

    root = tmp_path_factory.mktemp("ray-distributed")
    home = root / "home"
    home.mkdir()
    shared = persistent_envs_dir / "home" / "envs"  # the agent's builds: the local tests'
    shared.mkdir(parents=True, exist_ok=True)
    (home / "envs").symlink_to(shared, target_is_directory=True)
    (root / "cwd").mkdir()
    with ray_cluster.inside(), pytest.MonkeyPatch.context() as mp:
        for name, value in offline_builds(uv_cache_dir).items():
            mp.setenv(name, value)
        mp.setenv("RUNYARD_HOME", str(home))
        mp.setenv("RUNYARD_RAY_ADDRESS", ray_cluster.address)
        mp.setenv("RUNYARD_AGENT_IDLE_SECONDS", "120")
        for name in ("RUNYARD_STORE_URI", "AZUREML_MODEL_DIR", "AZUREML_RUN_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(root / "cwd")
        ws = Workspace.create("ray-dist", show_output=False)
        config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2)
        target = ComputeTarget.create(ws, "cpu-cluster", config)
        target.wait_for_completion()
        try:
            yield Cluster(ws, target, root / "src")
        finally:
            stop_agent(ws._services.layout, timeout=30)
            close_all()


def test_each_node_of_a_distributed_run_is_on_its_own_ray_node(chainermn_run) -> None:
    placement = chainermn_run.details["placement"]
    assert len(placement) == 2
    assert placement[0]["rayNodeId"] != placement[1]["rayNodeId"]  # STRICT_SPREAD
    assert {p["placementGroup"] for p in placement} == {f"runyard-{chainermn_run.run.id}"}
