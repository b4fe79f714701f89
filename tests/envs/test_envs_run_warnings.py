"""A submitted run whose environment pins a release with no build for this Python: the
agent (started with this test's pip configuration) builds the substitute, and the WARNING
is in the build log and in the run's details; strict pins fail the run naming the pin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runyard.core import Experiment, ScriptRunConfig
from runyard.core.conda_dependencies import CondaDependencies
from runyard.core.environment import Environment

from .wheels import make_wheel

PROBE = "runyard-rot-probe"


@pytest.fixture
def rot_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, job_uv_cache: Path) -> Path:
    """Before the agent starts: pip's only package source is a folder where 1.0 has a
    wheel for CPython 3.8 only."""
    folder = tmp_path / "wheels"
    make_wheel(folder, PROBE, "1.0", "cp38-none-any")
    make_wheel(folder, PROBE, "1.1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("RUNYARD_STRICT_PINS", raising=False)
    return folder


def _env(**variables: str) -> Environment:
    env = Environment("rot-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"{PROBE}==1.0"], python_version="3.11"
    )
    env.environment_variables = dict(variables)
    return env


SCRIPT = "import runyard_rot_probe as p\nprint('probe version', p.VERSION)\n"
MESSAGE = f"{PROBE}==1.0 has no build for Python"


def test_substitution_is_in_the_build_log_and_the_runs_details(
    ws, services, source, rot_wheels, build_log, driver_log
):
    run = Experiment(ws, "rot").submit(
        ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py", environment=_env())
    )
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Completed", details.get("error")
    warnings = [w for w in details["warnings"] if MESSAGE in w["message"]]
    assert len(warnings) == 1 and warnings[0]["source"] == "EnvironmentBuild"
    assert f"using {PROBE}==1.1, the oldest later release that installs" in warnings[0]["message"]
    assert f"WARNING: {warnings[0]['message']}" in build_log(services, run.id).splitlines()
    assert "probe version 1.1" in driver_log(services, run.id)
    assert run.get_details()["warnings"] == details["warnings"]


def test_strict_pins_on_the_environment_fail_the_run_naming_the_pin(
    ws, services, source, rot_wheels, build_log
):
    env = _env(RUNYARD_STRICT_PINS="1")
    run = Experiment(ws, "rot").submit(
        ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py", environment=env)
    )
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    error = details["error"]["error"]
    assert error["code"] == "PinNotInstallable"
    assert f"Strict pins: {PROBE}==1.0 (nearest installable: 1.1)" in error["message"]
    assert [w for w in details["warnings"] if MESSAGE in w["message"]]
    assert "Preparing the run's environment failed: Strict pins" in build_log(services, run.id)


def test_a_broken_pip_configuration_fails_the_run_naming_the_file(
    ws, services, source, job_uv_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_CONSTRAINT", str(tmp_path / "missing-constraints.txt"))
    run = Experiment(ws, "rot").submit(
        ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py", environment=_env())
    )
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    error = details["error"]["error"]
    assert error["code"] == "PipConfigError"
    assert (
        f"pip's constraint file '{tmp_path}/missing-constraints.txt' (set by PIP_CONSTRAINT) "
        "does not exist"
    ) in error["message"]
