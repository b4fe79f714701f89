from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from runyard._envs.spec import EnvSpec, docker_notice, resolve_spec
from runyard.core.conda_dependencies import CondaDependencies
from runyard.core.environment import Environment, curated_environment
from runyard.exceptions import CondaPackageNotMappable, EnvironmentSpecConflict


def env_with(pip: list[str], conda: list[str] | None = None, python: str = "3.11") -> Environment:
    env = Environment("spec-test")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=pip, conda_packages=conda, python_version=python
    )
    return env


def spec_of(env: Environment) -> EnvSpec:
    return resolve_spec(env._serialize_to_dict()).spec


def test_hash_ignores_requirement_order_and_name_spelling():
    a = spec_of(env_with(["six", "idna>=3"]))
    b = spec_of(env_with(["IDNA >= 3", "Six"]))
    assert a.requirements == ("idna>=3", "six")
    assert a.hash == b.hash


def test_hash_ignores_name_docker_and_environment_variables():
    a = env_with(["six"])
    b = a.clone("other-name")
    b.docker.base_image = "python:3.11"
    b.environment_variables = {"X": "1"}
    assert spec_of(a).hash == spec_of(b).hash


def test_hash_changes_with_python_packages_options_and_build_settings():
    base = spec_of(env_with(["six"])).hash
    assert spec_of(env_with(["six"], python="3.12")).hash != base
    assert spec_of(env_with(["six==1.17.0"])).hash != base
    opts = env_with(["six"])
    opts.python.conda_dependencies.set_pip_option("--pre")
    assert spec_of(opts).hash != base
    built = env_with(["six"])
    built.python.build_settings.pre_install_packages.append("wheel")
    assert spec_of(built).hash != base


def test_hash_keeps_pip_option_order():
    a, b = env_with(["six"]), env_with(["six"])
    a.python.conda_dependencies.set_pip_option("--extra-index-url https://a.invalid")
    a.python.conda_dependencies.set_pip_option("--extra-index-url https://b.invalid")
    b.python.conda_dependencies.set_pip_option("--extra-index-url https://b.invalid")
    b.python.conda_dependencies.set_pip_option("--extra-index-url https://a.invalid")
    assert spec_of(a).hash != spec_of(b).hash


def test_hash_is_the_same_in_another_process():
    spec = spec_of(env_with(["six", "idna"], conda=["numpy=1.23"]))
    code = (
        "from runyard._envs.spec import resolve_spec\n"
        "from runyard.core.environment import Environment\n"
        "from runyard.core.conda_dependencies import CondaDependencies\n"
        "e = Environment('x')\n"
        "e.python.conda_dependencies = CondaDependencies.create(pip_packages=['idna', 'six'],"
        " conda_packages=['numpy=1.23'], python_version='3.11')\n"
        "print(resolve_spec(e._serialize_to_dict()).spec.hash)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    ).stdout.strip()
    assert out == spec.hash


def test_conda_packages_become_requirements_and_python_version():
    spec = spec_of(env_with(["six"], conda=["numpy=1.23", "pytorch>=2", "pip"]))
    assert spec.python_version == "3.11"
    assert spec.requirements == ("numpy==1.23.*", "six", "torch>=2")


def test_azureml_packages_provided_by_runyard_are_skipped_with_a_note():
    resolved = resolve_spec(Environment("default")._serialize_to_dict())
    assert resolved.spec.requirements == ()
    assert resolved.spec.python_version == "3.10.18"
    assert resolved.notes == (
        "azureml-defaults: provided by Runyard (azureml.* resolves to runyard), skipped.",
    )


def test_bad_conda_package_fails_resolution():
    with pytest.raises(CondaPackageNotMappable) as info:
        spec_of(env_with(["six"], conda=["cudatoolkit=11.8"]))
    assert "'cudatoolkit' has no PyPI equivalent" in str(info.value)


def test_user_managed_needs_no_build():
    env = Environment("um")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/usr/bin/python3"
    spec = spec_of(env)
    assert spec.user_managed and spec.interpreter_path == "/usr/bin/python3"


def chainer_with(*pip: str) -> Environment:
    env, _ = curated_environment("Chainer", "7.8.1", use_gpu=False)
    for package in pip:
        env.python.conda_dependencies.add_pip_package(package)
    return env


def test_unpinned_user_numpy_keeps_the_curated_pin():
    spec = spec_of(chainer_with("numpy", "pytest"))
    assert "numpy" in spec.requirements and "pytest" in spec.requirements
    assert spec.constraints == ("numpy<1.24", "setuptools<70")
    assert spec.pre_install == ("setuptools<70", "wheel")
    assert spec.no_build_isolation == ("chainer",)


def test_an_unpinned_numpy_beside_chainer_gets_the_recipes_bound():
    # the Chainer notebook's myenv.yml: conda numpy, pip chainer (no curated environment)
    cd = CondaDependencies.create(conda_packages=["numpy"], pip_packages=["chainer"])
    env = Environment("myenv")
    env.python.conda_dependencies = cd
    spec = spec_of(env)
    assert "numpy<1.24" in spec.constraints and "setuptools<70" in spec.constraints
    pinned = Environment("pinned")
    pinned.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["chainer", "numpy<1.23"]
    )
    assert spec_of(pinned).constraints == ("setuptools<70",)


def test_compatible_user_range_is_accepted():
    assert "numpy>=1.20" in spec_of(chainer_with("numpy>=1.20")).requirements


@pytest.mark.parametrize("pin", ["numpy==1.26.4", "numpy>=1.26"])
def test_conflicting_user_pin_is_an_error(pin: str):
    with pytest.raises(EnvironmentSpecConflict) as info:
        spec_of(chainer_with(pin))
    text = str(info.value)
    assert f"pip package {pin!r} conflicts with 'numpy<1.24'" in text
    assert "AzureML-Chainer-7.8.1-CPU" in text
    assert "env.python.build_settings.constraints" in text


def test_docker_notice_names_the_unused_image():
    notice = docker_notice(Environment("d")._serialize_to_dict())
    assert notice is not None
    assert notice.startswith("Docker image 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04")
    assert "was not used: Runyard runs jobs in a uv virtualenv" in notice


def test_azureml_packages_are_never_installed():
    cd = CondaDependencies.create(
        pip_packages=["azureml-defaults", "azureml-inference-server-http", "azureml-fsspec", "six"]
    )
    env = Environment("serve")
    env.python.conda_dependencies = cd
    resolved = resolve_spec(env._serialize_to_dict())
    assert [r for r in resolved.spec.requirements if "azureml" in r] == []
    assert "six" in resolved.spec.requirements
    notes = "\n".join(resolved.notes)
    assert re.search(r"azureml-inference-server-http\S*: provided by Runyard", notes)
    assert re.search(r"azureml-fsspec\S*: skipped: azureml.* resolves to Runyard, which", notes)
