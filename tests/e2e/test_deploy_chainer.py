"""The tutorial notebook's last third: its registered Chainer model deployed with the
notebook's own chainer_score.py, datautils.py, conda dependencies and ACI configuration,
then scored over HTTP with a key, as cells 46-62 of
train-hyperparameter-tune-deploy-with-chainer do (the model is the quickstart's: the
notebook trains its own on a GPU)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

NOTEBOOK = Path(__file__).parents[1] / "compat" / "notebooks"
NOTEBOOK = NOTEBOOK / "train-hyperparameter-tune-deploy-with-chainer"


def _labels(path: Path) -> np.ndarray:
    with gzip.open(path) as gz:
        data = gz.read()
    return np.frombuffer(data[8:], dtype=np.uint8)


def test_the_notebooks_chainer_service_scores_held_back_digits(tutorial, tmp_path):
    from runyard.compat import hook

    hook.install()
    from azureml.core import Workspace
    from azureml.core.environment import Environment
    from azureml.core.model import InferenceConfig, Model
    from azureml.core.runconfig import CondaDependencies
    from azureml.core.webservice import AciWebservice, Webservice
    from azureml.opendatasets import MNIST

    _, _, home = tutorial
    project_folder = tmp_path / "chainer-mnist"
    project_folder.mkdir()
    for name in ("chainer_score.py", "datautils.py"):
        shutil.copy(NOTEBOOK / name, project_folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(home / "home"))
        mp.chdir(tmp_path)
        ws = Workspace.get("quickstart")
        model = Model(ws, "chainer-dnn-mnist")
        # cell 48
        cd = CondaDependencies.create()
        cd.add_conda_package("numpy")
        cd.add_pip_package("chainer")
        cd.add_pip_package("azureml-defaults")
        cd.add_pip_package("azureml-opendatasets")
        cd.save_to_file(base_directory="./", conda_file_path="myenv.yml")
        # cell 50
        myenv = Environment.from_conda_specification(name="myenv", file_path="myenv.yml")
        inference_config = InferenceConfig(
            entry_script="chainer_score.py", environment=myenv, source_directory=str(project_folder)
        )
        aciconfig = AciWebservice.deploy_configuration(
            cpu_cores=1,
            auth_enabled=True,
            memory_gb=2,
            tags={"name": "mnist", "framework": "Chainer"},
            description="Chainer DNN with MNIST",
        )
        service = Model.deploy(
            workspace=ws,
            name="chainer-mnist-1",
            models=[model],
            inference_config=inference_config,
            deployment_config=aciconfig,
        )
        service.wait_for_deployment(True)
        assert service.state == "Healthy"
        assert "Preparing the environment" in service.get_logs()  # cell 52
        key1, _key2 = service.get_keys()  # cell 56
        # cell 57, with the bundled digits instead of a download: the test split's labels
        files = MNIST.get_file_dataset().download(str(tmp_path / "data"), overwrite=True)
        y_test = _labels(Path(next(p for p in files if "t10k-labels" in p)))
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + key1}
        indices = list(range(0, len(y_test), len(y_test) // 40))[:40]
        correct = 0
        for index in indices:
            body = f'{{"data": [{index}]}}'
            resp = httpx.post(service.scoring_uri, content=body, headers=headers, timeout=60)
            assert resp.status_code == 200, resp.text
            correct += resp.json()[0] == y_test[index]
        assert correct / len(indices) >= 0.8, (correct, len(indices))
        # cell 59
        webservice = ws.webservices["chainer-mnist-1"]
        assert webservice.scoring_uri == service.scoring_uri
        assert isinstance(Webservice(ws, "chainer-mnist-1"), AciWebservice)
        # cell 62
        service.delete()
        assert "chainer-mnist-1" not in ws.webservices
