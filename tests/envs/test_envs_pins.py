"""Dependency rot: an exact pin with no build for this Python is replaced by the oldest
later release that installs, with a WARNING; strict pins refuse instead; the cache key
includes the substitution.

Most tests use real wheels in a local find-links folder (``wheels.make_wheel``), tagged
for one Python only where the test needs rot, so uv's answers are fixed and offline. Two
ask the real indexes about v1's own pins (``uv pip compile``: index pages, no installs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runyard._envs import EnvSpec, default_build_settings, ensure_env, list_envs, resolve_spec
from runyard._envs.pins import check_pins
from runyard._envs.resolution import RECORD_SUFFIX, resolve
from runyard._envs.uv_run import compile_runner
from runyard.core.conda_dependencies import CondaDependencies
from runyard.core.environment import Environment
from runyard.exceptions import (
    InvalidEnvironmentDefinition,
    PinNotInstallable,
    UserErrorException,
)

from .wheels import make_wheel

PROBE = "runyard-rot-probe"
HOST = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """1.0 has a wheel for CPython 3.8 only (rot here); 1.1 and 1.2 install anywhere."""
    folder = tmp_path / "wheels"
    make_wheel(folder, PROBE, "1.0", "cp38-none-any")
    make_wheel(folder, PROBE, "1.1")
    make_wheel(folder, PROBE, "1.2")
    return folder


def settings_for(tmp_path: Path, uv_cache_dir: Path, wheels: Path, **environ: str):
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(wheels), "PIP_NO_INDEX": "1"}
    settings = default_build_settings(
        tmp_path / "home",
        host_python=sys.executable,
        uv_cache_dir=uv_cache_dir,
        environ={**env, **environ},
    )
    settings.envs_root.mkdir(parents=True, exist_ok=True)
    return settings


def installed(python: str) -> str:
    code = "import runyard_rot_probe as p; print(p.VERSION)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


def expected_warning(pin: str = f"{PROBE}==1.0", chosen: str = "1.1") -> str:
    return (
        f"WARNING: {pin} has no build for Python {HOST} (its newest wheels are for Python "
        f"3.8); using {PROBE}=={chosen}, the oldest later release that installs. Pin "
        f"{PROBE}=={chosen} to silence this, or set RUNYARD_STRICT_PINS=1 to fail instead."
    )


SPEC = EnvSpec(None, requirements=(f"{PROBE}==1.0",))


def test_rotten_pin_installs_the_oldest_later_release_with_a_warning(
    tmp_path, uv_cache_dir, wheels, log
):
    built = ensure_env(SPEC, settings_for(tmp_path, uv_cache_dir, wheels), log)
    assert installed(built.python).strip() == "1.1"
    assert expected_warning() in log
    assert f"+ {PROBE}==1.1" in log.text()
    marker = json.loads((Path(str(built.path)) / "runyard-env.json").read_text())
    assert marker["resolution"]["substitutions"][0]["line"] == f"{PROBE}==1.1"
    assert marker["definition_hash"] == SPEC.hash


def test_a_cache_hit_repeats_the_warning(tmp_path, uv_cache_dir, wheels, new_log):
    settings = settings_for(tmp_path, uv_cache_dir, wheels)
    first = ensure_env(SPEC, settings, new_log())
    again = new_log()
    hit = ensure_env(SPEC, settings, again)
    assert hit.cached and hit.path == first.path
    assert again == [
        expected_warning(),
        f"Environment {str(hit.spec_hash)[:12]} found in the cache at {hit.path}; reusing it.",
    ]


def test_strict_pins_fail_naming_the_pin_and_the_nearest_version(
    tmp_path, uv_cache_dir, wheels, log
):
    settings = settings_for(tmp_path, uv_cache_dir, wheels, RUNYARD_STRICT_PINS="1")
    assert settings.strict_pins
    with pytest.raises(PinNotInstallable) as info:
        ensure_env(SPEC, settings, log)
    assert str(info.value).startswith(
        f"Strict pins: {PROBE}==1.0 (nearest installable: 1.1). RUNYARD_STRICT_PINS=1"
    )
    assert "Pin the nearest installable version instead" in str(info.value)
    assert expected_warning() in log  # the build log says what was found
    assert list_envs(settings.envs_root) == []


def test_strict_pins_refuse_a_cached_substitution_too(tmp_path, uv_cache_dir, wheels, log):
    ensure_env(SPEC, settings_for(tmp_path, uv_cache_dir, wheels), log)
    strict = settings_for(tmp_path, uv_cache_dir, wheels, RUNYARD_STRICT_PINS="true")
    with pytest.raises(PinNotInstallable):
        ensure_env(SPEC, strict, log)


def _definition(variables: dict[str, str]) -> dict:
    env = Environment("rot-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=[f"{PROBE}==1.0"])
    env.environment_variables = variables
    return env._serialize_to_dict()


def test_the_environments_own_strict_pins_wins(tmp_path, uv_cache_dir, wheels, new_log):
    strict = resolve_spec(_definition({"RUNYARD_STRICT_PINS": "1"})).spec
    lenient = resolve_spec(_definition({"RUNYARD_STRICT_PINS": "0"})).spec
    assert (strict.strict_pins, lenient.strict_pins) == (True, False)
    assert strict.hash == lenient.hash  # strictness never changes what is installed
    with pytest.raises(PinNotInstallable):
        ensure_env(strict, settings_for(tmp_path, uv_cache_dir, wheels), new_log())
    process_strict = settings_for(tmp_path, uv_cache_dir, wheels, RUNYARD_STRICT_PINS="1")
    built = ensure_env(lenient, process_strict, new_log())
    assert installed(built.python).strip() == "1.1"


def test_bad_strict_pins_values_are_refused_with_the_fix(tmp_path, uv_cache_dir, wheels):
    with pytest.raises(UserErrorException) as info:
        settings_for(tmp_path, uv_cache_dir, wheels, RUNYARD_STRICT_PINS="maybe")
    assert "RUNYARD_STRICT_PINS='maybe' (this process) is not a boolean. Set it to 1" in str(
        info.value
    )
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        resolve_spec(_definition({"RUNYARD_STRICT_PINS": "sometimes"}))
    assert (
        "RUNYARD_STRICT_PINS='sometimes' (env.environment_variables of environment "
        "'rot-env') is not a boolean"
    ) in str(info.value)


def test_the_cache_key_includes_the_resolution(tmp_path, uv_cache_dir, wheels, new_log):
    settings = settings_for(tmp_path, uv_cache_dir, wheels)
    rotten = ensure_env(SPEC, settings, new_log())
    # A build of 1.0 for every Python appears: the same definition now installs 1.0 as
    # pinned, so it is another environment, and the old one is not reused.
    make_wheel(wheels, PROBE, "1.0")
    log = new_log()
    fixed = ensure_env(SPEC, settings_for(tmp_path, uv_cache_dir, wheels), log)
    assert not fixed.cached and fixed.spec_hash != rotten.spec_hash
    assert installed(fixed.python).strip() == "1.0"
    assert not [line for line in log if line.startswith("WARNING")]
    assert len(list(settings.envs_root.glob(f"*{RECORD_SUFFIX}"))) == 2


def test_a_release_with_no_wheel_at_all_is_built_from_source_not_replaced(
    tmp_path, uv_cache_dir, wheels
):
    # An sdist is all there is of 2.0 (as for chainer 7.8.1): pip would build it, so no rot.
    (wheels / f"{PROBE.replace('-', '_')}-2.0.tar.gz").write_bytes(b"not read")
    settings = settings_for(tmp_path, uv_cache_dir, wheels)
    check = check_pins(
        [f"{PROBE}==2.0", f"{PROBE}==1.0; python_version < '3'"],
        python=sys.executable,
        python_version=HOST,
        options=settings.pip.uv_args(),
        option_lines=(),
        compile_=compile_runner(settings),
    )
    assert check.substitutions == ()  # and the pin for Python 2 does not apply here


def test_no_later_release_that_installs_is_said_and_strict_names_none(tmp_path, uv_cache_dir):
    only = tmp_path / "only"
    make_wheel(only, PROBE, "1.0", "cp38-none-any")
    settings = settings_for(tmp_path, uv_cache_dir, only)
    resolution = resolve(SPEC, settings, lambda _line: None)
    (sub,) = resolution.substitutions
    assert (sub.chosen, sub.line) == (None, f"{PROBE}==1.0")
    assert sub.warning(HOST) == (
        f"WARNING: {PROBE}==1.0 has no build for Python {HOST} (its newest wheels are for "
        "Python 3.8), and no later release installs here either; the install will fail. "
        "Drop the pin or choose a Python 3.8 environment."
    )
    strict = dataclasses.replace(settings, strict_pins=True)
    with pytest.raises(PinNotInstallable) as info:
        ensure_env(SPEC, strict, lambda _line: None)
    assert f"{PROBE}==1.0 (nearest installable: none)" in str(info.value)


def _notebook_environment() -> Environment:
    """using-environments.ipynb's environment, with a conda Python of its day."""
    env = Environment("myenv")
    cd = CondaDependencies()
    cd.add_conda_package("scikit-learn==0.22.1")
    cd.add_pip_package("pillow==6.2.1")
    cd.set_python_version("3.6.2")
    env.python.conda_dependencies = cd
    return env


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the versions are Python 3.11's")
def test_v1s_pins_resolve_to_releases_that_install_on_this_python(tmp_path, uv_cache_dir):
    spec = resolve_spec(_notebook_environment()._serialize_to_dict()).spec
    settings = default_build_settings(
        tmp_path / "home", host_python=sys.executable, uv_cache_dir=uv_cache_dir
    )
    settings.envs_root.mkdir(parents=True)
    resolution = resolve(spec, settings, lambda _line: None)
    assert resolution.python_missing and resolution.python_requested == "3.6.2"
    chosen = {s.requirement: (s.chosen, s.built_for) for s in resolution.substitutions}
    assert chosen == {"pillow==6.2.1": ("9.2.0", "3.8"), "scikit-learn==0.22.1": ("1.1.3", "3.8")}
    warnings = resolution.warnings(settings.host_python)
    assert warnings[0].startswith("WARNING: Python 3.6.2 is not installed on this machine")
    assert "using scikit-learn==1.1.3, the oldest later release that installs" in warnings[2]
    with pytest.raises(PinNotInstallable) as info:
        from runyard._envs.resolution import check_strict

        check_strict(resolution, strict=True)
    assert str(info.value).startswith(
        f"Strict pins: python=3.6.2 (nearest installable: Python {HOST}); pillow==6.2.1 "
        "(nearest installable: 9.2.0); scikit-learn==0.22.1 (nearest installable: 1.1.3)."
    )


def test_a_stopped_run_stops_while_its_pins_are_checked(tmp_path, uv_cache_dir, wheels, log):
    from runyard.exceptions import EnvironmentBuildStopped

    settings = settings_for(tmp_path, uv_cache_dir, wheels)
    stopped = dataclasses.replace(settings, should_stop=lambda: True)
    with pytest.raises(EnvironmentBuildStopped) as info:
        ensure_env(SPEC, stopped, log)
    assert "was stopped while resolving its pins" in str(info.value)
    assert list_envs(settings.envs_root) == []
