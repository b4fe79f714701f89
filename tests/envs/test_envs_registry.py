"""The parts of the environment registry that need no store (curated names)."""

from __future__ import annotations

import pytest

from runyard._envs import registry
from runyard.core.environment import Environment
from runyard.exceptions import EnvironmentNotFound, UserErrorException


def test_curated_environment_is_found_case_insensitively_without_the_store():
    data = registry.get_environment(None, "azureml-chainer-7.8.1-cpu")  # type: ignore[arg-type]
    env = Environment._deserialize(data)
    assert (env.name, env.version) == ("AzureML-Chainer-7.8.1-CPU", "1")
    assert "chainer==7.8.1" in env.python.conda_dependencies.pip_packages


def test_curated_environment_has_only_version_1():
    with pytest.raises(EnvironmentNotFound) as info:
        registry.get_environment(None, "AzureML-Minimal", "2")  # type: ignore[arg-type]
    assert "No version '2' of environment 'AzureML-Minimal'" in str(info.value)


def test_reserved_prefix_cannot_be_registered():
    with pytest.raises(UserErrorException) as info:
        registry.register_environment(None, "AzureML-Mine", {})  # type: ignore[arg-type]
    assert "reserved prefix (AzureML, Microsoft)" in str(info.value)


def test_content_hash_ignores_name_and_version():
    a = Environment("a")._serialize_to_dict()
    b = {**a, "name": "b", "version": "7"}
    assert registry.content_hash(a) == registry.content_hash(b)
    b["environmentVariables"] = {"X": "1"}
    assert registry.content_hash(a) != registry.content_hash(b)
