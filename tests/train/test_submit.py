"""Submitting estimators for real: argv in v1's order, variables, datasets, Chainer on CPU."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from runyard.core import Experiment
from runyard.train.dnn import Chainer
from runyard.train.estimator import Estimator

ECHO = """
import json, os, sys
from azureml.core.run import Run
run = Run.get_context()
print("ARGV " + json.dumps(sys.argv[1:]))
print("VAR " + os.environ.get("MY_VAR", "<unset>"))
print("INPUTS " + json.dumps(run.input_datasets))
for name, path in run.input_datasets.items():
    print("FILES " + json.dumps(sorted(os.listdir(path))))
"""


def _line(log: str, prefix: str) -> str:
    return next(line for line in log.splitlines() if line.startswith(prefix))[len(prefix) :]


def _echo_source(tmp_path: Path) -> Path:
    """A source folder whose train.py prints its argv, inputs and files (ECHO)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(ECHO)
    return src


def _upload_digits(ws, tmp_path: Path):
    """a.csv and sub/b.csv uploaded to the default datastore under 'digits'."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("x\n1\n")
    (data / "sub" / "b.csv").write_text("x\n2\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(data), target_path="digits", show_progress=False)
    return datastore


def test_estimator_script_params_reach_the_script_in_v1_order(
    ws, services, tmp_path, driver_log
) -> None:
    src = _echo_source(tmp_path)
    est = Estimator(
        str(src),
        compute_target="local",
        entry_script="train.py",
        script_params={"--epochs": 3, "--flag": "", "--sizes": [1, 2], "--none": None, "-z": 0},
        environment_variables={"MY_VAR": "hello"},
        user_managed=True,
    )
    run = Experiment(ws, "est").submit(est, script_params={"--epochs": 5, "--lr": 0.1})
    assert run.wait_for_completion()["status"] == "Completed"
    log = driver_log(services, run.id)
    argv = ["--epochs", "5", "--flag", "--sizes", "1", "2", "--none", "-z", "0", "--lr", "0.1"]
    assert json.loads(_line(log, "ARGV ")) == argv
    assert _line(log, "VAR ") == "hello"
    definition = services.store.get_run(run.id).definition
    assert definition["arguments"] == argv
    assert definition["environment"]["python"]["userManagedDependencies"] is True


def test_dataset_in_script_params_becomes_a_local_folder(
    ws, services, tmp_path, driver_log
) -> None:
    from runyard.core.dataset import Dataset

    datastore = _upload_digits(ws, tmp_path)
    ds = Dataset.File.from_files(path=(datastore, "digits")).register(ws, "digits")
    src = _echo_source(tmp_path)
    est = Estimator(
        str(src),
        compute_target="local",
        entry_script="train.py",
        script_params={"--data-folder": ds.as_named_input("digits").as_mount()},
        user_managed=True,
    )
    run = Experiment(ws, "est").submit(est)
    assert run.wait_for_completion()["status"] == "Completed"
    log = driver_log(services, run.id)
    argv = json.loads(_line(log, "ARGV "))
    inputs = json.loads(_line(log, "INPUTS "))
    assert argv[0] == "--data-folder" and inputs == {"digits": argv[1]}
    assert argv[1].endswith("/inputs/digits")
    assert json.loads(_line(log, "FILES ")) == ["a.csv", "sub"]
    definition = services.store.get_run(run.id).definition
    assert definition["arguments"] == ["--data-folder", "DatasetConsumptionConfig:digits"]
    assert definition["data"]["digits"]["mode"] == "mount"
    assert definition["data"]["digits"]["dataset_name"] == "digits"
    job_dir = services.layout.jobs_dir / run.id
    assert not job_dir.exists()  # the read-only mount was removed with the job folder


def test_numpy_values_and_legacy_data_references_reach_the_script(
    ws, services, tmp_path, driver_log
) -> None:
    import numpy as np

    datastore = _upload_digits(ws, tmp_path)
    src = _echo_source(tmp_path)
    est = Estimator(
        str(src),
        compute_target="local",
        entry_script="train.py",
        script_params={
            "--n": np.int64(5),
            "--lr": np.float32(0.5),
            "--data-folder": datastore.path("digits").as_mount(),
        },
        inputs=[datastore.path("digits/sub", data_reference_name="sub").as_download()],
        user_managed=True,
    )
    run = Experiment(ws, "est").submit(est)
    assert run.wait_for_completion()["status"] == "Completed"
    log = driver_log(services, run.id)
    argv = json.loads(_line(log, "ARGV "))
    inputs = json.loads(_line(log, "INPUTS "))
    assert argv[:4] == ["--n", "5", "--lr", "0.5"]
    assert argv[4] == "--data-folder" and argv[5] == inputs["workspaceblobstore"]
    assert inputs["sub"].endswith("/inputs/sub")
    files = [
        json.loads(line[len("FILES ") :]) for line in log.splitlines() if line.startswith("FILES ")
    ]
    assert files == [["a.csv", "sub"], ["b.csv"]]


@pytest.fixture
def cached_envs(services, persistent_envs_dir) -> Path:
    """Point this workspace's env cache at the one tests/envs keeps, so the curated
    Chainer environment (numpy, pytest) is built once per machine, not per test."""
    shared = persistent_envs_dir / "home" / "envs"
    shared.mkdir(parents=True, exist_ok=True)
    envs = services.settings.home / "envs"
    envs.parent.mkdir(parents=True, exist_ok=True)
    envs.symlink_to(shared, target_is_directory=True)
    return shared


CHAINER_SCRIPT = """
import sys
import chainer
import numpy
from azureml.core.run import Run
run = Run.get_context()
run.log("chainer", chainer.__version__)
print("chainer", chainer.__version__, "numpy", numpy.__version__, sys.argv[1:])
"""


def test_chainer_estimator_with_use_gpu_runs_on_the_cpu(
    ws, services, tmp_path, cached_envs, job_uv_cache, driver_log
) -> None:
    from runyard._envs.gpu import gpu_present

    if gpu_present():
        pytest.skip("this machine has a GPU; the CPU notice is for GPU-less machines")
    src = tmp_path / "src"
    src.mkdir()
    (src / "chainer_mnist.py").write_text(CHAINER_SCRIPT)
    est = Chainer(
        source_directory=str(src),
        compute_target="local",
        entry_script="chainer_mnist.py",
        script_params={"--epochs": 1},
        pip_packages=["numpy", "pytest"],
        use_gpu=True,
    )
    run = Experiment(ws, "chainer").submit(est)
    assert run.wait_for_completion()["status"] == "Completed"
    log = driver_log(services, run.id)
    assert "use_gpu=True but this node has no GPU" in log
    assert "the run uses the CPU" in log
    assert "chainer 7.8.1 numpy 1.2" in log and "['--epochs', '1']" in log
    assert str(cached_envs) not in sys.executable
    assert run.get_metrics() == {"chainer": "7.8.1"}
