"""Real distributed training on a local cluster of two nodes, through the public SDK and the
agent: ChainerMN over MPI (the PyPI mpich wheel and mpi4py, added to the run's environment)
and PyTorch DDP over gloo. Each run trains a few steps on the bundled digits or generated
data; every rank logs into the one run, has its own driver log, and writes a checksum of its
parameters to ./outputs, which agree across ranks after the allreduce.

One run per framework, shared by the tests that check it (module-scoped); the environments
live in the cache tests/envs and tests/e2e keep, so they are built once per machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(900)  # the first build of an environment (chainer's sdist)

NOTEBOOK_SCRIPT = (
    Path(__file__).resolve().parents[1]
    / "compat"
    / "notebooks"
    / "distributed-chainer"
    / "train_mnist.py"
)

CHAINERMN_SCRIPT = """
import hashlib, os
import numpy as np
import chainer
import chainer.functions as F
import chainer.links as L
import chainermn
from chainer.dataset import concat_examples
from mpi4py import MPI
from azureml.core import Run

comm = chainermn.create_communicator("naive")
run = Run.get_context()
run.log("rank", comm.rank)
run.log("world_size", comm.size)
print(f"rank {comm.rank} of {comm.size}", flush=True)
print("MPI library: " + MPI.Get_library_version().splitlines()[0], flush=True)

np.random.seed(comm.rank)  # the ranks start apart: the optimizer's broadcast joins them
model = L.Classifier(chainer.Sequential(L.Linear(784, 64), F.relu, L.Linear(64, 10)))
optimizer = chainermn.create_multi_node_optimizer(chainer.optimizers.Adam(), comm)
optimizer.setup(model)

# rank 0 reads the bundled digits (CHAINER_DATASET_ROOT) and scatters them: each rank
# trains on its own half, so without the allreduce their parameters would part.
train = chainer.datasets.get_mnist()[0] if comm.rank == 0 else None
train = chainermn.scatter_dataset(train, comm, shuffle=True, seed=0)
batches = chainer.iterators.SerialIterator(train, 64, shuffle=False)
for step in range(10):
    x, t = concat_examples(batches.next())
    optimizer.update(model, x, t)
    run.log("loss", float(model.loss.array))

digest = hashlib.sha256()
for name, param in sorted(model.namedparams()):
    digest.update(name.encode() + np.ascontiguousarray(param.array).tobytes())
os.makedirs("outputs", exist_ok=True)
with open(f"outputs/params_{comm.rank}.txt", "w") as f:
    f.write(digest.hexdigest())
print(f"rank {comm.rank} params {digest.hexdigest()}", flush=True)
"""

DDP_SCRIPT = """
import hashlib, os
import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from azureml.core import Run

dist.init_process_group("gloo")  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
rank, world = dist.get_rank(), dist.get_world_size()
run = Run.get_context()
run.log("rank", rank)
run.log("world_size", world)
print(f"rank {rank} of {world}", flush=True)

torch.manual_seed(rank)  # the ranks start apart: DDP broadcasts rank 0's parameters
net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
model = DistributedDataParallel(net)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
data = np.random.default_rng(100 + rank)  # each rank its own data
for step in range(10):
    x = torch.from_numpy(data.standard_normal((32, 8)).astype(np.float32))
    y = x.sum(dim=1, keepdim=True)
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    run.log("loss", loss.item())

flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(world)]
dist.all_gather(gathered, flat)
run.log("params_agree", all(torch.equal(gathered[0], other) for other in gathered))
os.makedirs("outputs", exist_ok=True)
with open(f"outputs/params_{rank}.txt", "w") as f:
    f.write(hashlib.sha256(flat.numpy().tobytes()).hexdigest())
dist.destroy_process_group()
"""


@dataclass(frozen=True, slots=True)
class Cluster:
    ws: Any
    target: Any
    sources: Path


@dataclass(frozen=True, slots=True)
class Finished:
    run: Any
    details: dict[str, Any]
    services: Any

    def artifact(self, name: str) -> str:
        return self.services.artifacts.read_bytes(f"runs/{self.run.id}/{name}").decode()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, persistent_envs_dir: Path, uv_cache_dir: Path
) -> Iterator[Cluster]:
    """A workspace of its own for the module (its env cache the shared one) and a local
    cluster of two nodes; its agent is stopped at the module's end."""
    from runyard._services import close_all
    from runyard._services.agent_client import stop_agent
    from runyard.core import Workspace
    from runyard.core.compute import AmlCompute, ComputeTarget

    root = tmp_path_factory.mktemp("distributed")
    home = root / "home"
    shared = persistent_envs_dir / "home" / "envs"
    shared.mkdir(parents=True, exist_ok=True)
    home.mkdir()
    (home / "envs").symlink_to(shared, target_is_directory=True)
    (root / "cwd").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(home))
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))  # the agent's uv inherits it
        mp.setenv("RUNYARD_AGENT_IDLE_SECONDS", "120")
        for name in ("RUNYARD_STORE_URI", "AZUREML_MODEL_DIR", "AZUREML_RUN_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(root / "cwd")
        ws = Workspace.create("dist-training", show_output=False)
        config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2)
        target = ComputeTarget.create(ws, "cpu-cluster", config)
        target.wait_for_completion()
        try:
            yield Cluster(ws, target, root / "src")
        finally:
            stop_agent(ws._services.layout, timeout=30)
            close_all()


def _chainer_environment() -> Any:
    """The tutorial's environment (the curated Chainer one with its pip_packages numpy and
    pytest, runyard/quickstart/chainer_article.py), so uv's cache holds chainer's build
    already; the run adds mpich and mpi4py itself."""
    from runyard.core.environment import curated_environment

    env, _ = curated_environment("Chainer", "7.8.1", use_gpu=False)
    env.name = f"{env.name}-with-user-packages"
    env.python.conda_dependencies.add_pip_package("pytest")
    return env


def _torch_environment() -> Any:
    from runyard.core.conda_dependencies import CondaDependencies
    from runyard.core.environment import Environment

    env = Environment("torch-ddp")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["torch==2.13.0", "numpy"], python_version="3.11"
    )
    return env


def _submit(
    cluster: Cluster, name: str, files: dict[str, str | Path], script: str, **config: Any
) -> Finished:
    from runyard.core import Experiment, ScriptRunConfig

    source = cluster.sources / name
    source.mkdir(parents=True)
    for rel, content in files.items():
        if isinstance(content, Path):
            shutil.copy(content, source / rel)
        else:
            (source / rel).write_text(content)
    run_config = ScriptRunConfig(str(source), script, compute_target=cluster.target, **config)
    run = Experiment(cluster.ws, name).submit(run_config)
    details = run.wait_for_completion(show_output=False, raise_on_error=False)
    return Finished(run, details, cluster.ws._services)


@pytest.fixture(scope="module")
def chainermn_run(cluster: Cluster) -> Finished:
    from runyard.core.runconfig import MpiConfiguration

    return _submit(
        cluster,
        "chainermn",
        {"train.py": CHAINERMN_SCRIPT},
        "train.py",
        environment=_chainer_environment(),
        distributed_job_config=MpiConfiguration(node_count=2),
    )


@pytest.fixture(scope="module")
def ddp_run(cluster: Cluster) -> Finished:
    from runyard.core.runconfig import PyTorchConfiguration

    return _submit(
        cluster,
        "ddp",
        {"train.py": DDP_SCRIPT},
        "train.py",
        environment=_torch_environment(),
        distributed_job_config=PyTorchConfiguration(communication_backend="Gloo", node_count=2),
    )


def _completed(finished: Finished) -> None:
    details = finished.details
    assert details["status"] == "Completed", (details.get("error"), _logs(finished))


def _logs(finished: Finished) -> str:
    names = [n for n in finished.run.get_file_names() if n.startswith("azureml-logs/")]
    return "\n".join(f"--- {n}\n{finished.artifact(n)[-3000:]}" for n in names)


def _params(finished: Finished) -> list[str]:
    return [finished.artifact(f"outputs/params_{rank}.txt") for rank in range(2)]


# ---- ChainerMN over MPI -----------------------------------------------------------------
def test_chainermn_on_two_nodes_completes_with_every_rank_logging_into_the_run(
    chainermn_run: Finished,
) -> None:
    _completed(chainermn_run)
    metrics = chainermn_run.run.get_metrics()
    assert sorted(metrics["rank"]) == [0, 1]
    assert metrics["world_size"] == [2, 2]
    assert len(metrics["loss"]) == 20  # 10 steps on each rank


def test_chainermn_ranks_have_their_own_driver_logs(chainermn_run: Finished) -> None:
    _completed(chainermn_run)
    for rank in range(2):
        log = chainermn_run.artifact(f"azureml-logs/70_driver_log_{rank}.txt")
        assert f"rank {rank} of 2" in log, log


def test_chainermn_parameters_agree_across_ranks_after_the_allreduce(
    chainermn_run: Finished,
) -> None:
    _completed(chainermn_run)
    first, second = _params(chainermn_run)
    assert len(first) == 64 and first == second


def test_mpi_run_gets_the_mpich_wheel_and_mpi4py_added_to_its_environment(
    chainermn_run: Finished,
) -> None:
    _completed(chainermn_run)
    log = chainermn_run.artifact("azureml-logs/70_driver_log_0.txt")
    assert "MPI library: MPICH Version:" in log, log


# ---- PyTorch DDP over gloo ----------------------------------------------------------------
def test_ddp_on_two_nodes_completes_with_every_rank_logging_into_the_run(ddp_run: Finished) -> None:
    _completed(ddp_run)
    metrics = ddp_run.run.get_metrics()
    assert sorted(metrics["rank"]) == [0, 1]
    assert metrics["world_size"] == [2, 2]
    assert len(metrics["loss"]) == 20


def test_ddp_ranks_have_their_own_driver_logs(ddp_run: Finished) -> None:
    _completed(ddp_run)
    for rank in range(2):
        log = ddp_run.artifact(f"azureml-logs/70_driver_log_{rank}.txt")
        assert f"rank {rank} of 2" in log, log


def test_ddp_parameters_agree_across_ranks_after_the_allreduce(ddp_run: Finished) -> None:
    _completed(ddp_run)
    assert ddp_run.run.get_metrics()["params_agree"] == [True, True]
    first, second = _params(ddp_run)
    assert len(first) == 64 and first == second


# ---- the distributed-chainer notebook's script --------------------------------------------
def test_the_distributed_chainer_notebooks_script_trains_on_cpu_nodes_with_gpu_off(
    cluster: Cluster,
) -> None:
    """The notebook's cell 23 (MpiConfiguration(node_count=2)) with its vendored
    train_mnist.py, given ``--gpu ''`` (its default asks for a CUDA-aware communicator)."""
    from runyard.core.runconfig import MpiConfiguration

    finished = _submit(
        cluster,
        "chainer-distr",
        {"train_mnist.py": NOTEBOOK_SCRIPT},
        "train_mnist.py",
        arguments=["--gpu", "", "--epoch", "1", "--unit", "100"],
        environment=_chainer_environment(),
        distributed_job_config=MpiConfiguration(node_count=2),
    )
    _completed(finished)
    log = finished.artifact("azureml-logs/70_driver_log_0.txt")
    assert "Num process (COMM_WORLD): 2" in log, log
    assert "Warning: using naive communicator" in log
