"""Environment.register/get/list through the workspace's store."""

from __future__ import annotations

import pytest

from runyard.core.environment import Environment
from runyard.exceptions import EnvironmentNotFound, UserErrorException


def test_register_twice_with_same_content_keeps_version(ws):
    env = Environment("my-env")
    env.python.conda_dependencies.add_pip_package("numpy")
    first = env.register(ws)
    again = env.register(ws)
    assert (first.version, again.version) == ("1", "1")
    assert env.version is None  # register returns a copy, as v1 does
    assert [e.version for n, e in ws.environments.items() if n == "my-env"] == ["1"]


def test_changed_content_gets_a_new_version(ws):
    env = Environment("my-env")
    env.register(ws)
    env.environment_variables = {"MODE": "fast"}
    assert env.register(ws).version == "2"


def test_get_latest_and_by_version(ws):
    env = Environment("my-env")
    env.python.conda_dependencies.add_pip_package("numpy")
    env.register(ws)
    env.python.conda_dependencies.add_pip_package("pandas")
    env.register(ws)
    latest = Environment.get(ws, "my-env")
    assert latest.version == "2"
    assert "pandas" in latest.python.conda_dependencies.pip_packages
    first = Environment.get(ws, "my-env", version="1")
    assert first.version == "1"
    assert "pandas" not in first.python.conda_dependencies.pip_packages


def test_get_missing_name_and_version(ws):
    Environment("my-env").register(ws)
    with pytest.raises(EnvironmentNotFound, match=r"No environment named 'nope'.*register"):
        Environment.get(ws, "nope")
    with pytest.raises(EnvironmentNotFound, match=r"No version '3' of environment 'my-env'"):
        Environment.get(ws, "my-env", version="3")


def test_list_has_registered_and_curated(ws):
    Environment("b-env").register(ws)
    Environment("a-env").register(ws)
    found = Environment.list(ws)
    assert {"a-env", "b-env", "AzureML-Chainer-7.8.1-CPU"} <= set(found)
    assert found["a-env"].version == "1"
    assert set(ws.environments) == set(found)


def test_reserved_prefix_cannot_be_registered_and_nothing_is_stored(ws):
    for name in ("AzureML-Mine", "Microsoft-env"):
        with pytest.raises(UserErrorException, match=r"reserved prefix \(AzureML, Microsoft\)"):
            Environment(name).register(ws)
    assert not [n for n in Environment.list(ws) if n.startswith("Microsoft")]
    with pytest.raises(EnvironmentNotFound):
        Environment.get(ws, "AzureML-Mine")


def test_curated_environment_resolves_without_registration(ws):
    env = Environment.get(ws, "AzureML-Chainer-7.8.1-CPU")
    assert env.version == "1"
    assert "chainer==7.8.1" in env.python.conda_dependencies.pip_packages
    with pytest.raises(EnvironmentNotFound, match="No version '2'"):
        Environment.get(ws, "AzureML-Chainer-7.8.1-CPU", version="2")


def test_label_is_refused_with_the_fix(ws):
    with pytest.raises(UserErrorException, match="pass version= instead"):
        Environment.get(ws, "my-env", label="latest")
