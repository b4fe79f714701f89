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


def test_unknown_label_names_the_fix_and_version_with_label_is_refused(ws):
    Environment("my-env").register(ws)
    with pytest.raises(EnvironmentNotFound, match=r"labelled 'latest'.*Environment.label\("):
        Environment.get(ws, "my-env", label="latest")
    with pytest.raises(UserErrorException, match="either version or label, not both"):
        Environment.get(ws, "my-env", version="1", label="latest")


def test_label_then_get_by_label_and_move_it(ws):
    env = Environment("labelled-env")
    env.register(ws)
    env.environment_variables = {"MODE": "fast"}
    env.register(ws)
    Environment.label(ws, "labelled-env", "1", ["production"])
    assert Environment.get(ws, "labelled-env", label="production").version == "1"
    Environment.label(ws, "labelled-env", "2", ["production"])
    got = Environment.get(ws, "labelled-env", label="production")
    assert got.version == "2" and got.environment_variables == {"MODE": "fast"}


@pytest.mark.parametrize(
    ("labels", "message"),
    [("production", "non-empty list of str"), ([], "non-empty list of str"),
     ([""], "non-empty strs")],
)  # fmt: skip
def test_bad_labels_are_refused_and_nothing_labelled(ws, labels, message):
    Environment("labelled-env").register(ws)
    with pytest.raises(UserErrorException, match=message):
        Environment.label(ws, "labelled-env", "1", labels)
    with pytest.raises(EnvironmentNotFound, match="labelled 'production'"):
        Environment.get(ws, "labelled-env", label="production")


def test_curated_environments_take_no_labels(ws):
    with pytest.raises(UserErrorException, match="curated environment; labels go on registered"):
        Environment.label(ws, "AzureML-Chainer-7.8.1-CPU", "1", ["prod"])
