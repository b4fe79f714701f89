from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from runyard._envs import BuildSettings, EnvSpec, ensure_env, list_envs, prune
from runyard.exceptions import (
    EnvironmentBuildFailed,
    EnvironmentBuildStopped,
    InvalidEnvironmentDefinition,
)

SIX = EnvSpec(python_version=None, requirements=("six",))


def leftovers(root: Path) -> list[str]:
    """What a build left in the cache folder, but its locks and resolution records."""
    kept = (".lock", ".resolution.json")
    return (
        sorted(p.name for p in root.iterdir() if not p.name.endswith(kept)) if root.exists() else []
    )


def test_build_then_cache_hit(build_settings: BuildSettings, log, new_log):
    built = ensure_env(SIX, build_settings, log)
    assert not built.cached and built.path == build_settings.envs_root / str(built.spec_hash)
    assert "Installed 1 package" in log.text()
    out = subprocess.run(
        [built.python, "-c", "import six, sys; print(six.__version__, sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split()[1] == str(built.path)

    again = new_log()
    hit = ensure_env(SIX, build_settings, again)
    assert hit.cached and hit.python == built.python
    key = str(built.spec_hash)
    assert again == [f"Environment {key[:12]} found in the cache at {built.path}; reusing it."]
    assert leftovers(build_settings.envs_root) == [key]


def test_two_processes_build_the_same_spec_once(
    tmp_path: Path, uv_cache_dir: Path, repo_root: Path, start_together
):
    home = tmp_path / "home"
    worker = str(Path(__file__).with_name("build_worker.py"))
    # Both are past their imports, at the barrier, before either starts building.
    procs = start_together(
        [[worker, str(home), str(uv_cache_dir), str(tmp_path / f"log{i}.txt")] for i in range(2)],
        cwd=repo_root,
    )
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    logs = [(tmp_path / f"log{i}.txt").read_text() for i in range(2)]
    builders = [text for text in logs if "cached=False" in text]
    waiters = [text for text in logs if "cached=True" in text]
    assert len(builders) == 1 and len(waiters) == 1
    assert builders[0].count("uv pip install") == 1
    assert "uv " not in waiters[0]
    assert "was built by another run; reusing it." in waiters[0]
    assert len(list_envs(home / "envs")) == 1
    assert leftovers(home / "envs") == [list_envs(home / "envs")[0].spec_hash]


def test_failed_build_leaves_nothing_and_carries_uvs_message(build_settings: BuildSettings, log):
    spec = EnvSpec(python_version=None, requirements=("runyard-no-such-package-xyz==1.0",))
    with pytest.raises(EnvironmentBuildFailed) as info:
        ensure_env(spec, build_settings, log)
    text = " ".join(str(info.value).split())  # uv wraps its lines
    assert "failed while installing the packages" in text
    assert "runyard-no-such-package-xyz was not found in the package registry" in text
    assert "Nothing was kept" in text
    assert leftovers(build_settings.envs_root) == []
    assert list_envs(build_settings.envs_root) == []


def test_should_stop_kills_uv_and_keeps_nothing(build_settings: BuildSettings, log, tmp_path: Path):
    import dataclasses

    # A local package whose build takes a minute: uv is busy building it when we stop.
    slow = tmp_path / "slowpkg"
    slow.mkdir()
    (slow / "setup.py").write_text(
        "import time\ntime.sleep(60)\nfrom setuptools import setup\n"
        "setup(name='slowpkg', version='1.0')\n"
    )
    asked = time.monotonic()
    settings = dataclasses.replace(build_settings, should_stop=lambda: time.monotonic() - asked > 3)
    spec = EnvSpec(python_version=None, requirements=(f"slowpkg @ {slow.as_uri()}",))
    with pytest.raises(EnvironmentBuildStopped) as info:
        ensure_env(spec, settings, log)
    assert time.monotonic() - asked < 30  # stopped, not waited out
    assert "was stopped while" in str(info.value) and "Nothing was kept" in str(info.value)
    assert leftovers(build_settings.envs_root) == []
    assert list_envs(build_settings.envs_root) == []


def test_missing_python_falls_back_to_host_with_a_warning(build_settings: BuildSettings, log):
    spec = EnvSpec(python_version="3.10.18", requirements=())
    built = ensure_env(spec, build_settings, log)
    assert "WARNING: Python 3.10.18 is not installed on this machine" in log.text()
    assert built.python_version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")


def test_user_managed_uses_the_given_interpreter(build_settings: BuildSettings, log):
    spec = EnvSpec(python_version=None, user_managed=True, interpreter_path="/usr/bin/python3")
    built = ensure_env(spec, build_settings, log)
    assert (built.python, built.path) == ("/usr/bin/python3", None)
    assert not build_settings.envs_root.exists()
    default = EnvSpec(python_version=None, user_managed=True, interpreter_path="python")
    assert ensure_env(default, build_settings, log).python == build_settings.host_python


def test_user_managed_with_a_missing_interpreter_names_it(build_settings: BuildSettings, log):
    spec = EnvSpec(python_version=None, user_managed=True, interpreter_path="/no/such/python")
    with pytest.raises(InvalidEnvironmentDefinition) as info:
        ensure_env(spec, build_settings, log)
    assert "interpreter_path '/no/such/python' is not an executable" in str(info.value)
    assert "user_managed_dependencies=False" in str(info.value)
    assert not build_settings.envs_root.exists()


def test_list_and_prune(build_settings: BuildSettings, log):
    root = build_settings.envs_root
    built = ensure_env(SIX, build_settings, log)
    (listed,) = list_envs(root)
    assert (listed.spec_hash, listed.definition_hash) == (built.spec_hash, SIX.hash)
    assert listed.requirements == ("six",)
    assert prune(root, keep_hashes={SIX.hash}) == []  # kept by its definition's hash
    assert prune(root, keep_hashes={str(built.spec_hash)}) == []  # or by its key
    assert prune(root, older_than_seconds=3600) == []
    assert prune(root, older_than_seconds=3600, now=time.time() + 7200) == [built.spec_hash]
    # The resolution record pointing at it went too.
    assert list_envs(root) == [] and leftovers(root) == []
    assert list(root.glob("*.resolution.json")) == []
