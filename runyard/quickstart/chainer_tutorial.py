"""The seed tutorial, *Train and register Chainer models at scale*, on the embedded workspace.

Written the way the v1 article writes it, with azureml's names only (resolved to Runyard by
``runyard.compat``): a workspace from config.json, an experiment, the MNIST sample as a
registered file dataset, a 'gpu-cluster' of STANDARD_NC6 nodes (max_nodes=4), a ``Chainer``
estimator with the article's script_params, submit, streamed output, metrics, the
registered model and its downloaded file.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("chainer") / "chainer_mnist.py"
WORKSPACE_NAME = "quickstart"


def _write_config(project: Path) -> None:
    config = project / "config.json"
    if not config.exists():
        config.write_text(
            json.dumps(
                {
                    "subscription_id": "00000000-0000-0000-0000-000000000000",
                    "resource_group": "runyard-quickstart",
                    "workspace_name": WORKSPACE_NAME,
                },
                indent=2,
            )
        )


def run_tutorial(project_dir: Path | None = None, *, epochs: int = 10) -> dict[str, Any]:
    """Runs the tutorial end to end, printing each step; returns what it produced."""
    from runyard.compat import hook

    hook.install()  # what `runyard compat enable` does for a notebook's Python
    from azureml.core import Dataset, Experiment, Workspace
    from azureml.core.compute import AmlCompute, ComputeTarget
    from azureml.core.compute_target import ComputeTargetException
    from azureml.opendatasets import MNIST
    from azureml.train.dnn import Chainer

    project = Path(project_dir or tempfile.mkdtemp(prefix="runyard-chainer-"))
    project.mkdir(parents=True, exist_ok=True)
    _write_config(project)

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
