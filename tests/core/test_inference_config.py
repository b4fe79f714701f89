"""InferenceConfig: v1's validation rules and messages, the modern (environment) and legacy
(runtime/conda_file) forms and their exclusivity, and the serving layer's dict."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from runyard.core.conda_dependencies import CondaDependencies
from runyard.core.environment import Environment
from runyard.core.inference_config import InferenceConfig
from runyard.exceptions import UserErrorException, WebserviceException

NOTEBOOK = (
    Path(__file__).resolve().parents[1]
    / "compat"
    / "notebooks"
    / "train-hyperparameter-tune-deploy-with-chainer"
)
SCORE = "def init():\n    pass\n\n\ndef run(raw_data):\n    return raw_data\n"
DOCS = "https://docs.microsoft.com/azure/machine-learning/how-to-use-environments"
EXCLUSIVE = (
    "Error, unable to provide runtime, conda_file, extra_docker_file_steps, enable_gpu, "
    "cuda_version, or base_image along with an environment object."
)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory with score.py and a conda file myenv.yml (as the Chainer
    notebook writes it)."""
    folder = Path(os.path.realpath(tmp_path)) / "work"  # v1 keeps real paths
    folder.mkdir()
    monkeypatch.chdir(folder)
    (folder / "score.py").write_text(SCORE)
    cd = CondaDependencies.create()
    cd.add_conda_package("numpy")
    cd.add_pip_package("chainer")
    cd.add_pip_package("azureml-defaults")
    cd.add_pip_package("azureml-opendatasets")
    cd.save_to_file(base_directory="./", conda_file_path="myenv.yml")
    return folder


@pytest.fixture
def project_folder(cwd: Path) -> Path:
    folder = cwd / "chainer-hyperdrive"
    folder.mkdir()
    shutil.copy(NOTEBOOK / "chainer_score.py", folder)
    return folder


@pytest.fixture
def myenv(cwd: Path) -> Environment:
    return Environment.from_conda_specification(name="myenv", file_path="myenv.yml")


# ---- the modern form ------------------------------------------------------------------------


def test_chainer_notebook_inference_config(project_folder: Path, myenv: Environment) -> None:
    inference_config = InferenceConfig(
        entry_script="chainer_score.py", environment=myenv, source_directory=str(project_folder)
    )
    out = inference_config._to_runyard()
    assert out == {
        "entry_script": str(project_folder / "chainer_score.py"),
        "source_directory": str(project_folder),
        "environment": myenv._serialize_to_dict(),
        "description": None,
        "recorded": {},
    }
    assert out["environment"]["name"] == "myenv"
    json.dumps(out)


def test_source_directory_relative_to_cwd_becomes_absolute(
    project_folder: Path, myenv: Environment
) -> None:
    config = InferenceConfig("score.py", environment=myenv, source_directory=".")
    assert config.source_directory == str(project_folder.parent)
    config = InferenceConfig(
        "chainer_score.py", environment=myenv, source_directory=project_folder.name
    )
    assert config.source_directory == str(project_folder)
    assert config._to_runyard()["entry_script"] == str(project_folder / "chainer_score.py")


def test_entry_script_alone_is_relative_to_cwd(cwd: Path) -> None:
    out = InferenceConfig("score.py", description="d")._to_runyard()
    assert out["entry_script"] == str(cwd / "score.py")
    assert out["source_directory"] is None
    assert out["description"] == "d"


def test_entry_script_alone_gets_a_default_environment(cwd: Path) -> None:
    out = InferenceConfig("score.py")._to_runyard()
    assert out["environment"] == Environment("inference-env")._serialize_to_dict()
    assert out["recorded"] == {}


def test_entry_script_may_sit_in_a_subfolder_of_source_directory(
    project_folder: Path, myenv: Environment
) -> None:
    (project_folder / "app").mkdir()
    (project_folder / "app" / "score.py").write_text(SCORE)
    config = InferenceConfig("app/score.py", environment=myenv, source_directory=project_folder)
    assert config._to_runyard()["entry_script"] == str(project_folder / "app" / "score.py")


def test_to_runyard_resolves_against_the_base_dir(
    cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = InferenceConfig("score.py")
    elsewhere = cwd.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert config._to_runyard(cwd)["entry_script"] == str(cwd / "score.py")
    with pytest.raises(WebserviceException) as info:
        config._to_runyard()
    assert str(info.value) == (
        f"entry_script {elsewhere / 'score.py'} doesn't exist. "
        "entry_script should be path relative to current working directory"
    )


def test_environment_without_azureml_defaults_logs_v1s_warning(
    cwd: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bare = Environment("bare")
    bare.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"])
    with caplog.at_level(logging.WARNING, logger="runyard.core.inference_config"):
        InferenceConfig("score.py", environment=bare)
    assert "Warning, azureml-defaults not detected in provided environment pip " in caplog.text


@pytest.mark.parametrize("package", ["azureml-defaults", "azureml-inference-server-http"])
def test_environment_with_a_serving_package_logs_nothing(
    cwd: Path, caplog: pytest.LogCaptureFixture, package: str
) -> None:
    env = Environment("served")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[package])
    with caplog.at_level(logging.WARNING, logger="runyard.core.inference_config"):
        InferenceConfig("score.py", environment=env)
    assert caplog.text == ""


def test_environment_with_dockerfile_and_image_is_rejected(cwd: Path) -> None:
    env = Environment._deserialize(
        {"name": "both", "docker": {"baseImage": "img:1", "baseDockerfile": "FROM img:1"}}
    )
    with pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", environment=env)
    assert str(info.value) == (
        "Error, only one of base_dockerfile or base_image should be provided to the "
        "environment.docker object."
    )


def test_environment_must_be_an_environment(cwd: Path) -> None:
    with pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", environment="myenv")  # type: ignore[arg-type]
    assert str(info.value) == (
        "Error, environment must be an azureml.core.Environment, such as "
        "Environment.from_conda_specification(name='myenv', file_path='myenv.yml'); got str."
    )


# ---- exclusivity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "legacy",
    [
        {"runtime": "python"},
        {"conda_file": "myenv.yml"},
        {"extra_docker_file_steps": "steps.txt"},
        {"enable_gpu": True},
        {"cuda_version": "10.0"},
        {"base_image": "img:1"},
    ],
)
def test_environment_excludes_the_legacy_arguments(
    cwd: Path, myenv: Environment, legacy: dict[str, Any]
) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", environment=myenv, **legacy)
    assert str(info.value) == EXCLUSIVE


def test_environment_allows_entry_script_source_directory_and_description(
    project_folder: Path, myenv: Environment
) -> None:
    config = InferenceConfig(
        "chainer_score.py", environment=myenv, source_directory=project_folder, description="d"
    )
    assert config._to_runyard()["description"] == "d"


# ---- entry script rules ---------------------------------------------------------------------


@pytest.mark.parametrize("entry_script", [None, ""])
def test_entry_script_is_required(cwd: Path, entry_script: object) -> None:
    with pytest.raises(WebserviceException) as info:
        InferenceConfig(entry_script)  # type: ignore[arg-type]
    assert str(info.value) == "Error, need to specify entry_script."


def test_missing_entry_script_is_reported_with_v1s_message(cwd: Path) -> None:
    with pytest.raises(WebserviceException) as info:
        InferenceConfig("chainer_score.py")
    assert str(info.value) == (
        f"entry_script {cwd / 'chainer_score.py'} doesn't exist. "
        "entry_script should be path relative to current working directory"
    )


def test_missing_entry_script_in_source_directory_names_source_directory(
    project_folder: Path, myenv: Environment
) -> None:
    with pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", environment=myenv, source_directory=project_folder)
    assert str(info.value) == (
        f"entry_script {project_folder / 'score.py'} doesn't exist. "
        "entry_script should be path relative to source_directory"
    )


def test_missing_source_directory_is_reported(cwd: Path) -> None:
    with pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", source_directory="nowhere")
    assert str(info.value) == f"source directory {cwd / 'nowhere'} doesn't exist."


def test_entry_script_must_be_python(cwd: Path) -> None:
    (cwd / "score.R").write_text("1")
    with pytest.raises(WebserviceException) as info:
        InferenceConfig("score.R")
    assert str(info.value) == "Invalid driver type. Currently only Python drivers are supported."


@pytest.mark.parametrize("name", ["my-score", "class", "2score"])
def test_entry_script_must_be_importable_by_name(cwd: Path, name: str) -> None:
    (cwd / f"{name}.py").write_text(SCORE)
    with pytest.raises(WebserviceException) as info:
        InferenceConfig(f"{name}.py")
    assert str(info.value) == (
        f'Error, invalid name "{name}" for provided entry script. The script must be importable '
        "as a valid python module, and must adhere to standard module naming. This means it "
        "must be a valid python identifier and not a part of the set of python standard keywords."
    )


def test_entry_script_with_a_syntax_error_is_rejected(cwd: Path) -> None:
    (cwd / "broken.py").write_text("def init(:\n")
    with pytest.raises(UserErrorException) as info:
        InferenceConfig("broken.py")
    assert str(info.value).endswith(". Please check it and try local deployment to verify.")
    assert "broken.py" in str(info.value)


def test_unreadable_entry_script_is_reported(cwd: Path) -> None:
    (cwd / "folder.py").mkdir()
    with pytest.raises(UserErrorException) as info:
        InferenceConfig("folder.py")
    assert str(info.value) == (
        f"Failed to open {cwd / 'folder.py'}, please check if it exists and the read "
        "permission. We can not deploy the model if we can not access this file."
    )


def test_validate_configuration_sees_later_changes(cwd: Path) -> None:
    config = InferenceConfig("score.py")
    config.validate_configuration()
    config.entry_script = "gone.py"
    with pytest.raises(WebserviceException, match="entry_script .*gone.py doesn't exist"):
        config.validate_configuration()


# ---- the legacy form ------------------------------------------------------------------------


def test_legacy_runtime_and_conda_file_build_an_environment(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning) as caught:
        config = InferenceConfig("score.py", runtime="python", conda_file="myenv.yml")
    assert [str(w.message) for w in caught] == [
        "runtime parameter has been deprecated and will be removed in a future release. "
        f"Please migrate to using Environments. {DOCS}",
        "conda_file parameter has been deprecated and will be removed in a future release. "
        f"Please migrate to using Environments. {DOCS}#conda-and-pip-packages",
    ]
    assert {w.filename for w in caught} == {__file__}
    out = config._to_runyard(service_name="chainer-mnist-1")
    expected = Environment.from_conda_specification("chainer-mnist-1-env", cwd / "myenv.yml")
    assert out["environment"] == expected._serialize_to_dict()
    assert out["recorded"] == {"runtime": "python", "conda_file": str(cwd / "myenv.yml")}
    assert out["entry_script"] == str(cwd / "score.py")


def test_legacy_environment_name_defaults_without_a_service_name(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning):
        config = InferenceConfig("score.py", runtime="python", conda_file="myenv.yml")
    assert config._to_runyard()["environment"]["name"] == "inference-env"


def test_legacy_runtime_without_conda_file_gets_a_default_environment(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning):
        config = InferenceConfig("score.py", runtime="python")
    out = config._to_runyard(service_name="svc")
    assert out["environment"] == Environment("svc-env")._serialize_to_dict()
    assert out["recorded"] == {"runtime": "python"}


def test_legacy_conda_file_is_relative_to_source_directory(project_folder: Path) -> None:
    shutil.copy(project_folder.parent / "myenv.yml", project_folder / "deps.yml")
    with pytest.warns(DeprecationWarning):
        config = InferenceConfig(
            "chainer_score.py",
            runtime="python",
            conda_file="deps.yml",
            source_directory=project_folder,
        )
    out = config._to_runyard()
    assert out["recorded"]["conda_file"] == str(project_folder / "deps.yml")
    assert out["source_directory"] == str(project_folder)


def test_legacy_missing_conda_file_is_reported(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", runtime="python", conda_file="missing.yml")
    assert str(info.value) == f"Conda file {cwd / 'missing.yml'} doesn't exist."


def test_legacy_missing_docker_steps_are_reported(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", runtime="python", extra_docker_file_steps="steps")
    assert str(info.value) == f"extra docker file steps {cwd / 'steps'} doesn't exist."


def test_legacy_unsupported_runtime_is_rejected(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", runtime="java")
    assert (
        str(info.value) == "Provided runtime not supported. Possible runtimes are: spark-py|python"
    )


def test_legacy_spark_runtime_warning_links_the_notebooks(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning) as caught:
        InferenceConfig("score.py", runtime="spark-py")
    assert str(caught[0].message).endswith(f"{DOCS}#example-notebooks")


def test_legacy_unsupported_cuda_version_is_rejected(cwd: Path) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(WebserviceException) as info:
        InferenceConfig("score.py", runtime="python", cuda_version="11.0")
    assert str(info.value) == (
        "Provided cuda_version not supported. Possible cuda_versions are: 9.0|9.1|10.0"
    )


def test_legacy_docker_settings_are_recorded(cwd: Path) -> None:
    (cwd / "steps").write_text("RUN echo hi\n")
    registry = {"address": "myacr.azurecr.io", "username": "me", "password": "secret"}
    with pytest.warns(DeprecationWarning) as caught:
        config = InferenceConfig(
            "score.py",
            runtime="python",
            extra_docker_file_steps="steps",
            enable_gpu=True,
            cuda_version="10.0",
            base_image="myacr.azurecr.io/base:1",
            base_image_registry=registry,
        )
    assert len(caught) == 4
    assert str(caught[-1].message) == (
        "base_image and base_image_registry parameters have been deprecated and will be removed "
        "in a future release. Please migrate to using Environments and custom base image. "
        f"{DOCS}#example-notebooks"
    )
    out = config._to_runyard()
    assert out["recorded"] == {
        "runtime": "python",
        "extra_docker_file_steps": str(cwd / "steps"),
        "enable_gpu": True,
        "cuda_version": "10.0",
        "base_image": "myacr.azurecr.io/base:1",
        "base_image_registry": {"address": "myacr.azurecr.io", "username": "me"},
    }
    assert "secret" not in json.dumps(out)


def test_repr_is_v1s(cwd: Path) -> None:
    config = InferenceConfig("score.py", source_directory=".")
    assert repr(config) == (
        f"InferenceConfig(entry_script=score.py, runtime=None, conda_file=None, "
        f"extra_docker_file_steps=None, source_directory={cwd}, "
        "enable_gpu=None, base_image=None, base_image_registry=None)"
    )


def test_to_runyard_does_not_log_the_warning_again(
    cwd: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bare = Environment("bare")
    bare.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"])
    config = InferenceConfig("score.py", environment=bare)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="runyard.core.inference_config"):
        config._to_runyard()
    assert caplog.text == ""
