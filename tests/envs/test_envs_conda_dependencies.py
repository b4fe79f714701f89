from __future__ import annotations

from pathlib import Path

import pytest

from runyard.core.conda_dependencies import CondaDependencies
from runyard.exceptions import InvalidEnvironmentDefinition, UserErrorException

CONDA_YAML = """\
name: mnist-env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.23
  - pip
  - pip:
      - --extra-index-url https://example.invalid/simple
      - chainer==7.8.1
      - six
"""


def test_default_matches_v1():
    cd = CondaDependencies()
    assert cd.as_dict()["name"] == "project_environment"
    assert cd.conda_packages == ["python=3.10.18"]
    assert cd.pip_packages == ["azureml-defaults"]
    assert cd.conda_channels == ["anaconda", "conda-forge"]
    assert cd.get_python_version() == "3.10.18"


def test_create_pip_list_replaces_the_default():
    cd = CondaDependencies.create(pip_packages=["numpy", "pytest"], python_version="3.11")
    assert cd.pip_packages == ["numpy", "pytest"]
    assert cd.get_python_version() == "3.11"


def test_create_without_pip_packages_keeps_azureml_defaults_pinned():
    cd = CondaDependencies.create()
    assert cd.pip_packages == ["azureml-defaults~=1.60.0"]
    assert CondaDependencies.create(pin_sdk_version=False).pip_packages == ["azureml-defaults"]


def test_create_index_url_becomes_a_pip_option():
    cd = CondaDependencies.create(pip_indexurl="https://idx.invalid/simple", pip_packages=["six"])
    assert cd.pip_options == ["--index-url https://idx.invalid/simple"]
    assert cd.pip_packages == ["six"]


def test_create_rejects_a_single_string():
    with pytest.raises(UserErrorException) as info:
        CondaDependencies.create(pip_packages="numpy")
    assert "lists of package specs" in str(info.value)


def test_add_pip_package_replaces_same_name():
    cd = CondaDependencies.create(pip_packages=["numpy<1.24", "six"])
    cd.add_pip_package("NumPy")
    assert cd.pip_packages == ["six", "NumPy"]


def test_add_pip_package_keeps_distinct_url_lines():
    cd = CondaDependencies.create(pip_packages=["git+https://github.com/org/a.git"])
    cd.add_pip_package("git+https://github.com/org/b.git")
    cd.add_pip_package("https://example.com/c-1.0.tar.gz")
    cd.add_pip_package("./wheels/d-1.0-py3-none-any.whl")
    cd.add_pip_package("d==2.0")  # the wheel above is package 'd'
    cd.add_pip_package("git+https://github.com/org/e.git#egg=e")
    cd.add_pip_package("e>=1")
    cd.add_pip_package("f @ https://example.com/f-1.0.tar.gz")
    cd.add_pip_package("f")
    assert cd.pip_packages == [
        "git+https://github.com/org/a.git",
        "git+https://github.com/org/b.git",
        "https://example.com/c-1.0.tar.gz",
        "d==2.0",
        "e>=1",
        "f",
    ]


def test_add_and_remove_conda_package():
    cd = CondaDependencies()
    cd.add_conda_package("scipy=1.10")
    cd.add_conda_package("scipy=1.11")
    assert cd.conda_packages == ["python=3.10.18", "scipy=1.11"]
    cd.remove_conda_package("scipy")
    assert cd.conda_packages == ["python=3.10.18"]


def test_remove_pip_package_ignores_version():
    cd = CondaDependencies.create(pip_packages=["six==1.16", "idna"])
    cd.remove_pip_package("six")
    assert cd.pip_packages == ["idna"]


def test_set_pip_option_replaces_same_option_and_rejects_packages():
    cd = CondaDependencies()
    cd.set_pip_option("--index-url https://a.invalid")
    cd.set_pip_option("--index-url https://b.invalid")
    cd.set_pip_option("--extra-index-url https://c.invalid")
    assert cd.pip_options == [
        "--index-url https://b.invalid",
        "--extra-index-url https://c.invalid",
    ]
    with pytest.raises(UserErrorException) as info:
        cd.set_pip_option("numpy")
    assert "'numpy' is not a pip option" in str(info.value)


def test_add_pip_package_rejects_options():
    with pytest.raises(UserErrorException) as info:
        CondaDependencies().add_pip_package("--pre")
    assert "use set_pip_option()" in str(info.value)


def test_set_pip_requirements_replaces_the_pip_section():
    cd = CondaDependencies()
    cd.set_pip_requirements(["six", "--pre", "idna>=3"])
    assert cd.pip_packages == ["six", "idna>=3"]
    assert cd.pip_options == ["--pre"]


def test_channels_and_python_version():
    cd = CondaDependencies()
    cd.add_channel("pytorch")
    cd.add_channel("pytorch")
    assert cd.conda_channels == ["anaconda", "conda-forge", "pytorch"]
    cd.set_python_version("3.11")
    assert cd.conda_packages == ["python=3.11"]
    with pytest.raises(UserErrorException) as info:
        cd.set_python_version("eleven")
    assert "'eleven' is not a version" in str(info.value)


def test_conda_yaml_with_pip_section_is_read(tmp_path: Path):
    path = tmp_path / "env.yml"
    path.write_text(CONDA_YAML)
    cd = CondaDependencies(conda_dependencies_file_path=path)
    assert cd.conda_packages == ["python=3.11", "numpy=1.23", "pip"]
    assert cd.pip_packages == ["chainer==7.8.1", "six"]
    assert cd.pip_options == ["--extra-index-url https://example.invalid/simple"]
    assert cd.conda_channels == ["conda-forge"]


def test_serialize_save_and_reload_round_trip(tmp_path: Path):
    cd = CondaDependencies.create(pip_packages=["six"], conda_packages=["numpy=1.23"])
    text = cd.serialize_to_string()
    assert text.startswith("# Conda environment specification.")
    written = cd.save_to_file(tmp_path)
    assert written == str(tmp_path / "conda_dependencies.yml")
    assert CondaDependencies(written) == cd
    assert CondaDependencies(written).save() == written


def test_save_without_path_needs_one():
    with pytest.raises(UserErrorException) as info:
        CondaDependencies().save()
    assert "pass save(path=...)" in str(info.value)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        CondaDependencies(tmp_path / "nope.yml")
    assert "nope.yml' does not exist" in str(info.value)


def test_bad_yaml_is_reported(tmp_path: Path):
    path = tmp_path / "bad.yml"
    path.write_text("dependencies: [unclosed\n")
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        CondaDependencies(path)
    assert "is not valid YAML" in str(info.value)


def test_bad_dependency_entry_is_reported(tmp_path: Path):
    path = tmp_path / "bad.yml"
    path.write_text("dependencies:\n  - {conda: [x]}\n")
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        CondaDependencies(path)
    assert "is neither a conda package spec nor a '- pip: [...]' list" in str(info.value)
