"""The article *Train and register Chainer models at scale*, step by step, as v1 writes it.

azureml's names only: import this module after ``runyard.compat.hook.install()`` (as
:func:`runyard.quickstart.chainer_tutorial.run_tutorial` does), so that they are Runyard's.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from azureml.core import Dataset, Experiment, Workspace
from azureml.core.compute import AmlCompute, ComputeTarget
from azureml.core.compute_target import ComputeTargetException
from azureml.opendatasets import MNIST
from azureml.train.dnn import Chainer

SCRIPT = Path(__file__).with_name("chainer") / "chainer_mnist.py"


def run(project: Path, *, epochs: int) -> dict[str, Any]:
    """The article's cells, with project/config.json as the workspace's config."""
    print("== ws = Workspace.from_config()")
    ws = Workspace.from_config(path=str(project))
    print(f"   Workspace name: {ws.name}, resource group: {ws.resource_group}")

    print("== experiment = Experiment(ws, name='chainer-mnist')")
    experiment = Experiment(ws, name="chainer-mnist")

    print("== upload the MNIST sample to the default datastore and register it")
    datastore = ws.get_default_datastore()
    datastore.upload(
        src_dir=str(MNIST.get_local_path()), target_path="mnist", overwrite=True,
        show_progress=True,
    )  # fmt: skip
    dataset = Dataset.File.from_files(path=(datastore, "mnist/**"))
    dataset = dataset.register(ws, name="mnist-chainer", create_new_version=True)
    print(f"   dataset {dataset.name} version {dataset.version}")

    cluster_name = "gpu-cluster"
    try:
        compute_target = ComputeTarget(workspace=ws, name=cluster_name)
        print("== Found existing compute target.")
    except ComputeTargetException:
        print("== Creating a new compute target...")
        compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
        compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
    compute_target.wait_for_completion(show_output=True)
    print(compute_target.get_status().serialize())

    project_folder = project / "chainer-mnist"
    project_folder.mkdir(exist_ok=True)
    shutil.copy(SCRIPT, project_folder)

    script_params = {
        "--data-folder": dataset.as_named_input("mnist").as_mount(),
        "--epochs": epochs,
        "--batchsize": 128,
        "--output_dir": "./outputs",
    }
    print("== estimator = Chainer(..., pip_packages=['numpy', 'pytest'], use_gpu=True)")
    estimator = Chainer(
        source_directory=str(project_folder),
        script_params=script_params,
        compute_target=compute_target,
        pip_packages=["numpy", "pytest"],
        entry_script="chainer_mnist.py",
        use_gpu=True,
    )
    run = experiment.submit(estimator)
    print(f"== run = experiment.submit(estimator) -> {run.id}")
    run.wait_for_completion(show_output=True)

    metrics = run.get_metrics()
    print("== run.get_metrics()")
    for name, value in metrics.items():
        print(f"   {name}: {value}")

    model = run.register_model(model_name="chainer-dnn-mnist", model_path="outputs/model.npz")
    print(f"== run.register_model('chainer-dnn-mnist', 'outputs/model.npz') -> {model.id}")
    files = run.get_file_names()
    print(f"== run.get_file_names() -> {files}")
    local = project / "model.npz"
    run.download_file(name="outputs/model.npz", output_file_path=str(local))
    print(f"== run.download_file('outputs/model.npz') -> {local}")
    return {
        "run_id": run.id,
        "status": run.get_status(),
        "metrics": metrics,
        "model_id": model.id,
        "files": files,
        "model_file": str(local),
    }
