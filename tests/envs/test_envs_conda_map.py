from __future__ import annotations

import pytest

from runyard._envs.conda_map import map_conda_package, map_conda_packages
from runyard.exceptions import CondaPackageNotMappable, InvalidCondaSpec


def req(spec: str) -> str | None:
    return map_conda_package(spec).requirement


def test_single_equals_is_a_prefix_match():
    assert req("numpy=1.21") == "numpy==1.21.*"


def test_double_equals_is_exact():
    assert req("numpy==1.21.2") == "numpy==1.21.2"


def test_ranges_pass_through():
    assert req("numpy>=1.2") == "numpy>=1.2"
    assert req("numpy >=1.2,<2") == "numpy>=1.2,<2"


def test_build_string_is_dropped():
    assert req("numpy=1.21.2=py39h20f2e39_0") == "numpy==1.21.2.*"


def test_space_separated_version_means_prefix():
    assert req("numpy 1.21") == "numpy==1.21.*"


def test_renamed_packages_and_channel_prefix():
    assert req("pytorch=1.6") == "torch==1.6.*"
    assert req("conda-forge::matplotlib-base") == "matplotlib"
    assert req("py-xgboost") == "xgboost"


def test_python_gives_the_version():
    mapped = map_conda_package("python=3.10.18")
    assert mapped.python_version == "3.10.18" and mapped.requirement is None
    assert map_conda_package("python=3.11").python_version == "3.11"


def test_unknown_names_are_assumed_same_on_pypi():
    mapped = map_conda_package("beautifulsoup4")
    assert mapped.requirement == "beautifulsoup4" and mapped.assumed
    assert not map_conda_package("scipy").assumed


def test_package_without_twin_is_named_with_the_fix():
    with pytest.raises(CondaPackageNotMappable) as info:
        map_conda_package("cudatoolkit=11.8")
    text = str(info.value)
    assert "'cudatoolkit' has no PyPI equivalent" in text
    assert "pip_packages" in text and "bring their own CUDA runtime" in text


def test_all_unmapped_packages_are_listed_at_once():
    with pytest.raises(CondaPackageNotMappable) as info:
        map_conda_packages(["numpy", "mkl", "cudatoolkit=11"])
    assert info.value.names == ["mkl", "cudatoolkit"]
    assert "['mkl', 'cudatoolkit'] have no PyPI equivalent" in str(info.value)


def test_or_between_versions_is_rejected():
    with pytest.raises(InvalidCondaSpec) as info:
        map_conda_package("numpy=1.21|1.22")
    assert "'numpy=1.21|1.22' cannot be used: pip cannot express conda's '|'" in str(info.value)


def test_garbage_version_is_rejected():
    with pytest.raises(InvalidCondaSpec) as info:
        map_conda_package("numpy>=banana")
    assert "'>=banana' is not a version constraint" in str(info.value)


def test_python_range_is_rejected():
    with pytest.raises(InvalidCondaSpec) as info:
        map_conda_package("python>=3.8")
    assert "give Python as python=3.X or python=3.X.Y" in str(info.value)
