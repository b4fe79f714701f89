from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runyard.core.conda_dependencies import CondaDependencies
from runyard.core.environment import (
    DEFAULT_CPU_IMAGE,
    DockerConfiguration,
    Environment,
    curated_environment,
)
from runyard.exceptions import InvalidEnvironmentDefinition, TrainingException, UserErrorException


def test_defaults_match_v1():
    env = Environment("my-env")
    assert env.version is None
    assert env.python.user_managed_dependencies is False
    assert env.python.interpreter_path == "python"
    assert env.python.conda_dependencies == CondaDependencies()
    assert env.docker.base_image == DEFAULT_CPU_IMAGE
    assert env.docker.shm_size == "2g"
    assert env.docker.enabled is False
    assert env.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}


def test_bad_name_is_rejected():
    with pytest.raises(UserErrorException) as info:
        Environment("has space")
    assert "Environment name 'has space' is not valid" in str(info.value)


def test_docker_image_dockerfile_and_context_are_exclusive():
    env = Environment("e")
    env.docker.base_dockerfile = "FROM ubuntu:22.04\nRUN echo hi\n"
    assert env.docker.base_image is None
    env.docker.build_context = "ctx"
    assert env.docker.base_dockerfile is None
    env.docker.base_image = "python:3.11"
    assert (env.docker.base_image, env.docker.build_context) == ("python:3.11", None)


def test_docker_enabled_logs_deprecation(caplog: pytest.LogCaptureFixture):
    env = Environment("e")
    with caplog.at_level(logging.WARNING):
        env.docker.enabled = True
    assert env.docker.enabled is True
    assert "'enabled' is deprecated" in caplog.text


def test_docker_configuration_defaults():
    conf = DockerConfiguration()
    assert (conf.use_docker, conf.shared_volumes, conf.arguments, conf.shm_size) == (
        False,
        True,
        [],
        "2g",
    )


def test_from_pip_requirements_reads_lines_and_includes(tmp_path: Path):
    (tmp_path / "base.txt").write_text("idna>=3\n")
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\nsix==1.17.0  # pinned\n-r base.txt\n\n--pre\n")
    env = Environment.from_pip_requirements("reqs", req, pip_version="24.0")
    cd = env.python.conda_dependencies
    assert cd.pip_packages == ["six==1.17.0", "idna>=3"]
    assert cd.pip_options == ["--pre"]
    assert "pip=24.0" in cd.conda_packages


def test_from_pip_requirements_missing_file(tmp_path: Path):
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        Environment.from_pip_requirements("x", tmp_path / "nope.txt")
    assert "Requirements file" in str(info.value) and "does not exist" in str(info.value)


def test_from_conda_specification_without_python_pins_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "env.yml"
    path.write_text("dependencies:\n  - numpy=1.23\n  - pip:\n      - six\n")
    with caplog.at_level(logging.WARNING):
        env = Environment.from_conda_specification("conda-env", path)
    assert env.python.conda_dependencies.get_python_version() == "3.10.18"
    assert env.python.conda_dependencies.pip_packages == ["six"]
    assert "No Python version provided" in caplog.text


def test_clone_is_deep_and_drops_version():
    env = Environment("a")
    env.version = "3"
    copy = env.clone("b")
    copy.python.conda_dependencies.add_pip_package("six")
    assert (copy.name, copy.version) == ("b", None)
    assert "six" not in env.python.conda_dependencies.pip_packages


def test_save_and_load_directory_round_trip(tmp_path: Path):
    env = Environment("saved")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    env.environment_variables = {"A": "1"}
    env.docker.base_dockerfile = "FROM python:3.11\n"
    env.python.build_settings.constraints.append("numpy<1.24")
    env.save_to_directory(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "Dockerfile",
        "azureml_environment.json",
        "conda_dependencies.yml",
    ]
    assert Environment.load_from_directory(tmp_path / "out") == env


def test_save_to_existing_directory_needs_overwrite(tmp_path: Path):
    with pytest.raises(UserErrorException) as info:
        Environment("e").save_to_directory(tmp_path)
    assert "already exists; pass overwrite=True" in str(info.value)
    Environment("e").save_to_directory(tmp_path, overwrite=True)


def test_load_from_directory_without_definition(tmp_path: Path):
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        Environment.load_from_directory(tmp_path)
    assert "azureml_environment.json' does not exist" in str(info.value)


def test_curated_chainer_gpu_request_without_gpu_uses_cpu_and_says_so():
    env, notice = curated_environment("Chainer", "7.8.1", use_gpu=True, gpu_present=False)
    assert env.name == "AzureML-Chainer-7.8.1-CPU"
    assert notice is not None and "the run uses the CPU" in notice
    assert "cupy-cuda12x" not in env.python.conda_dependencies.pip_packages


def test_curated_chainer_gpu_variant_adds_cupy():
    env, notice = curated_environment("chainer", "7.8.1", use_gpu=True, gpu_present=True)
    assert env.name == "AzureML-Chainer-7.8.1-GPU"
    assert "cupy-cuda12x" in env.python.conda_dependencies.pip_packages
    assert notice == "GPU found: using curated environment AzureML-Chainer-7.8.1-GPU."


def test_curated_chainer_cpu_has_no_notice():
    env, notice = curated_environment("Chainer", "7.8.1", use_gpu=False)
    assert notice is None
    assert env.python.build_settings.constraints == ["numpy<1.24", "setuptools<70"]


def test_unsupported_framework_version_lists_supported():
    with pytest.raises(TrainingException) as info:
        curated_environment("Chainer", "5.1.0", use_gpu=False)
    assert "framework_version '5.1.0' is not supported for Chainer" in str(info.value)
    assert "['7.8.1']" in str(info.value)
