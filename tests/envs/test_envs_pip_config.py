"""pip's configuration as the builder reads it: real pip.conf files in pip's places and
PIP_* variables, checked against pip's own reading of the same files, then real uv builds
that find packages only through them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runyard._envs import EnvSpec, default_build_settings, ensure_env
from runyard._envs.pip_config import PipConfig, config_files, pip_identity, read_pip_config
from runyard.exceptions import PipConfigError

from .wheels import make_simple_index, make_wheel


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """pip's configuration places, all under tmp_path; ``environ`` points pip at them."""
    root = tmp_path / "machine"
    return {
        "xdg_dir": root / "xdg",  # $XDG_CONFIG_DIRS
        "system": root / "etc",  # /etc
        "home": root / "home",
        "venv": root / "venv",  # $VIRTUAL_ENV
        "cwd": root / "cwd",
    }


def environ_for(places: dict[str, Path], **extra: str) -> dict[str, str]:
    return {
        "XDG_CONFIG_DIRS": str(places["xdg_dir"]),
        "HOME": str(places["home"]),
        "VIRTUAL_ENV": str(places["venv"]),
        **extra,
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def read(places: dict[str, Path], environ: dict[str, str]) -> PipConfig:
    return read_pip_config(
        environ, site_prefix="/nonexistent", system_dir=places["system"], cwd=places["cwd"]
    )


def folders(tmp_path: Path, *names: str) -> list[str]:
    made = []
    for name in names:
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        made.append(str(tmp_path / name))
    return made


def test_files_load_in_pips_order(places):
    env = environ_for(places)
    assert config_files(env, site_prefix="/x", system_dir=places["system"]) == [
        places["xdg_dir"] / "pip" / "pip.conf",
        places["system"] / "pip.conf",
        places["home"] / ".pip" / "pip.conf",
        places["home"] / ".config" / "pip" / "pip.conf",
        places["venv"] / "pip.conf",
    ]


def test_each_later_file_overrides_the_earlier_ones(places, tmp_path):
    links = folders(tmp_path, "a", "b", "c", "d", "e")
    files = [
        places["xdg_dir"] / "pip" / "pip.conf",
        places["system"] / "pip.conf",
        places["home"] / ".pip" / "pip.conf",
        places["home"] / ".config" / "pip" / "pip.conf",
        places["venv"] / "pip.conf",
    ]
    env = environ_for(places)
    for i, (path, link) in enumerate(zip(files, links, strict=True)):
        write(path, f"[global]\nfind-links = {link}\n")
        config = read(places, env)
        assert config.find_links == (link,), f"after writing file {i}: {path}"
        assert config.sources == (("find-links", f"{path} [global]"),)


def test_install_section_beats_global_of_a_later_file_and_variables_beat_both(places, tmp_path):
    a, b, c = folders(tmp_path, "a", "b", "c")
    write(places["system"] / "pip.conf", f"[install]\nfind-links = {a}\n")
    write(places["venv"] / "pip.conf", f"[global]\nfind-links = {b}\n")
    assert read(places, environ_for(places)).find_links == (a,)
    assert read(places, environ_for(places, PIP_FIND_LINKS=c)).find_links == (c,)
    # An empty variable is ignored, as pip ignores empty values.
    assert read(places, environ_for(places, PIP_FIND_LINKS="")).find_links == (a,)


def test_pip_config_file_skips_the_user_files_and_devnull_skips_every_file(places, tmp_path):
    user, own, system = folders(tmp_path, "user", "own", "system")
    write(places["home"] / ".config" / "pip" / "pip.conf", f"[global]\nfind-links = {user}\n")
    write(places["system"] / "pip.conf", f"[global]\nfind-links = {system}\n")
    own_file = write(tmp_path / "own.conf", f"[global]\nextra-index-url = file://{own}\n")
    config = read(places, environ_for(places, PIP_CONFIG_FILE=str(own_file)))
    assert config.find_links == (system,)  # the user file was skipped, the global one not
    assert config.extra_index_urls == (f"file://{own}",)
    none = read(places, environ_for(places, PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="x"))
    assert (none.find_links, none.extra_index_urls, none.index_url) == ((), (), "x")


def test_keys_are_normalized_and_lists_split_on_whitespace(places, tmp_path):
    a, b = folders(tmp_path, "a", "b")
    write(
        places["system"] / "pip.conf",
        f"[global]\nextra_index_url = https://one/simple\n  https://two/simple\n"
        f"--find-links = {a} {b}\nno-index = yes\npre = off\ntrusted-host = one two\n",
    )
    config = read(places, environ_for(places))
    assert config.extra_index_urls == ("https://one/simple", "https://two/simple")
    assert config.find_links == (a, b)
    assert (config.no_index, config.pre, config.trusted_hosts) == (True, False, ("one", "two"))


def test_translated_to_uv_options(places, tmp_path):
    (link,) = folders(tmp_path, "wheels")
    constraints = write(tmp_path / "c.txt", "torch<=2.14.1\n")
    env = environ_for(
        places,
        PIP_INDEX_URL="https://mirror/simple",
        PIP_EXTRA_INDEX_URL="file:///opt/x https://more/simple",
        PIP_FIND_LINKS=link,
        PIP_CONSTRAINT=str(constraints),
        PIP_PRE="1",
        PIP_TRUSTED_HOST="mirror",
    )
    assert read(places, env).uv_args() == [
        "--default-index", "https://mirror/simple",
        "--index", "file:///opt/x", "--index", "https://more/simple",
        "--find-links", link,
        "--constraint", str(constraints),
        "--prerelease", "allow",
        "--allow-insecure-host", "mirror",
        "--index-strategy", "unsafe-best-match",
    ]  # fmt: skip
    # The environment's own --index-url wins over the machine's, as in pip.
    assert "--default-index" not in read(places, env).uv_args(own_index=True)


def test_relative_paths_are_taken_from_the_working_folder(places):
    places["cwd"].joinpath("wheels").mkdir(parents=True)
    write(places["cwd"] / "c.txt", "six\n")
    env = environ_for(places, PIP_FIND_LINKS="wheels", PIP_CONSTRAINT="c.txt")
    config = read(places, env)
    assert config.find_links == (str(places["cwd"] / "wheels"),)
    assert config.constraints == (str(places["cwd"] / "c.txt"),)


def test_cert_and_timeout_reach_uv_unless_uvs_own_are_set(places):
    config = read(places, environ_for(places, PIP_CERT="/etc/ca.pem", PIP_DEFAULT_TIMEOUT="180"))
    assert config.uv_env({}) == {"SSL_CERT_FILE": "/etc/ca.pem", "UV_HTTP_TIMEOUT": "180"}
    assert config.uv_env({"SSL_CERT_FILE": "/mine", "UV_HTTP_TIMEOUT": "5"}) == {}


_PIP_PROBE = (
    "import json\nfrom pip._internal.commands import create_command\n"
    "o, _ = create_command('install').parse_args([])\n"
    "print(json.dumps([o.index_url, o.extra_index_urls, o.find_links, o.constraints]))\n"
)


def _pip_and_ours(env: dict[str, str], cwd: Path) -> tuple[list[object], list[object]]:
    """What pip itself makes of ``env`` (its install options) and what we make of it."""
    env = {**env, "PATH": os.environ["PATH"]}
    if subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, env=env
    ).returncode:
        pytest.skip("pip is not installed in this Python")
    out = subprocess.run(
        [sys.executable, "-c", _PIP_PROBE], capture_output=True, text=True, env=env, check=True
    )
    # pip's site file is its own Python's prefix: the same one here.
    ours = read_pip_config(env, site_prefix=sys.prefix, cwd=cwd)
    mine = [
        ours.index_url or "https://pypi.org/simple",  # pip's default; we leave uv's default
        list(ours.extra_index_urls),
        list(ours.find_links),
        list(ours.constraints),
    ]
    return json.loads(out.stdout), mine


def test_matches_pips_own_reading_of_the_same_files(places, tmp_path):
    a, b, c = folders(tmp_path, "a", "b", "c")
    constraint = write(tmp_path / "constraints.txt", "six<2\n")
    write(places["xdg_dir"] / "pip" / "pip.conf", f"[global]\nconstraint = {constraint}\n")
    write(places["home"] / ".pip" / "pip.conf", f"[global]\nfind-links = {b}\n")
    write(places["home"] / ".config" / "pip" / "pip.conf", f"[install]\nfind-links = {a}\n")
    env = {"XDG_CONFIG_DIRS": str(places["xdg_dir"]), "HOME": str(places["home"])}
    pips, ours = _pip_and_ours({**env, "PIP_INDEX_URL": "https://m/simple"}, places["cwd"])
    assert pips == ours and ours[2] == [a]
    own = write(
        tmp_path / "own.conf",
        f"[global]\nfind-links = {c}\nextra-index-url = file://{c} https://x/simple\n",
    )
    pips, ours = _pip_and_ours({**env, "PIP_CONFIG_FILE": str(own)}, places["cwd"])
    assert pips == ours and ours[2] == [c]  # the user files were skipped by both


def test_missing_find_links_folder_is_skipped_with_a_warning(places, tmp_path):
    (real,) = folders(tmp_path, "real")
    config = read(places, environ_for(places, PIP_FIND_LINKS=f"{tmp_path}/gone {real}"))
    assert config.find_links == (real,)
    assert config.skipped == (
        f"WARNING: find-links location '{tmp_path}/gone' (PIP_FIND_LINKS) does not exist; it "
        "is skipped, as pip skips it.",
    )


def test_missing_constraint_file_names_it_and_where_it_was_set(places, tmp_path):
    conf = write(places["venv"] / "pip.conf", f"[global]\nconstraint = {tmp_path}/nope.txt\n")
    with pytest.raises(PipConfigError) as info:
        read(places, environ_for(places))
    message = str(info.value)
    assert f"pip's constraint file '{tmp_path}/nope.txt' (set by {conf} [global])" in message
    assert "does not exist" in message and "Create the file, or remove" in message


def test_unparsable_pip_conf_names_the_file(places):
    conf = write(places["system"] / "pip.conf", "find-links = /x\n")  # no [section]
    with pytest.raises(PipConfigError) as info:
        read(places, environ_for(places))
    assert f"pip configuration file '{conf}' cannot be parsed" in str(info.value)
    assert "Fix its syntax" in str(info.value)


def test_bad_boolean_names_the_setting(places):
    with pytest.raises(PipConfigError) as info:
        read(places, environ_for(places, PIP_NO_INDEX="perhaps"))
    assert "pip setting no-index='perhaps' (from PIP_NO_INDEX) is not a boolean" in str(info.value)


def test_identity_follows_find_links_and_constraint_contents(places, tmp_path):
    (link,) = folders(tmp_path, "wheels")
    constraint = write(tmp_path / "c.txt", "six<2\n")
    env = environ_for(places, PIP_FIND_LINKS=link, PIP_CONSTRAINT=str(constraint))
    first = pip_identity(read(places, env))
    assert pip_identity(read(places, env)) == first
    make_wheel(Path(link), "runyard-probe", "1.0")
    with_wheel = pip_identity(read(places, env))
    assert with_wheel != first
    constraint.write_text("six<1.16\n")
    assert pip_identity(read(places, env)) not in (first, with_wheel)


def _settings(tmp_path: Path, uv_cache_dir: Path, **environ: str):
    # No machine files: only what the test gives (PIP_CONFIG_FILE=/dev/null skips them all).
    env = {"PIP_CONFIG_FILE": os.devnull, **environ}
    return default_build_settings(
        tmp_path / "home", host_python=sys.executable, uv_cache_dir=uv_cache_dir, environ=env
    )


def _version_in(python: str, module: str) -> str:
    code = f"import {module}; print({module}.VERSION)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


def test_build_finds_a_package_only_in_a_find_links_folder(tmp_path, uv_cache_dir, log):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "runyard-probe", "1.0")
    settings = _settings(tmp_path, uv_cache_dir, PIP_FIND_LINKS=str(wheels), PIP_NO_INDEX="1")
    built = ensure_env(EnvSpec(None, requirements=("runyard-probe",)), settings, log)
    assert _version_in(built.python, "runyard_probe").strip() == "1.0"
    assert "pip configuration passed to uv: find-links from PIP_FIND_LINKS" in log.text()
    assert f"--find-links {wheels} --no-index" in log.text()


def test_build_uses_a_private_index_from_pip_conf(tmp_path, uv_cache_dir, log):
    wheel = make_wheel(tmp_path / "files", "runyard-probe", "2.0")
    url = make_simple_index(tmp_path / "simple", [wheel])
    conf = write(tmp_path / "pip.conf", f"[global]\nindex-url = {url}\n")
    settings = default_build_settings(
        tmp_path / "home",
        host_python=sys.executable,
        uv_cache_dir=uv_cache_dir,
        environ={"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path), "XDG_CONFIG_DIRS": "/none"},
    )
    built = ensure_env(EnvSpec(None, requirements=("runyard-probe",)), settings, log)
    assert _version_in(built.python, "runyard_probe").strip() == "2.0"
    assert f"index-url from {conf} [global]" in log.text()


def test_a_new_wheel_in_find_links_is_a_new_environment(tmp_path, uv_cache_dir, new_log):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "runyard-probe", "1.0")
    spec = EnvSpec(None, requirements=("runyard-probe",))
    env = {"PIP_FIND_LINKS": str(wheels), "PIP_NO_INDEX": "1"}
    first = ensure_env(spec, _settings(tmp_path, uv_cache_dir, **env), new_log())
    assert ensure_env(spec, _settings(tmp_path, uv_cache_dir, **env), new_log()).cached
    make_wheel(wheels, "runyard-probe", "1.1")
    second = ensure_env(spec, _settings(tmp_path, uv_cache_dir, **env), new_log())
    assert not second.cached and second.spec_hash != first.spec_hash
    assert _version_in(second.python, "runyard_probe").strip() == "1.1"


def test_pip_constraint_caps_what_the_build_installs(tmp_path, uv_cache_dir, log):
    wheels = tmp_path / "wheels"
    for version in ("1.0", "1.1", "1.2"):
        make_wheel(wheels, "runyard-probe", version)
    constraint = write(tmp_path / "constraints.txt", "runyard-probe<1.2\n")
    settings = _settings(
        tmp_path,
        uv_cache_dir,
        PIP_FIND_LINKS=str(wheels),
        PIP_NO_INDEX="1",
        PIP_CONSTRAINT=str(constraint),
    )
    built = ensure_env(EnvSpec(None, requirements=("runyard-probe",)), settings, log)
    assert _version_in(built.python, "runyard_probe").strip() == "1.1"


TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


@pytest.mark.skipif(not TORCH_WHEEL.exists(), reason="no CPU torch wheel on this machine")
@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the CPU torch wheel is for 3.11")
def test_torch_resolves_to_the_local_cpu_wheel_through_pips_find_links(
    tmp_path, uv_cache_dir, new_log
):
    from runyard._envs.resolution import resolve

    spec = EnvSpec(None, requirements=("torch==2.13.0",))
    # Resolution only (uv pip compile): nothing of torch is downloaded or installed.
    machine = default_build_settings(
        tmp_path / "home", host_python=sys.executable, uv_cache_dir=uv_cache_dir
    )
    machine.envs_root.mkdir(parents=True)
    log = new_log()
    assert resolve(spec, machine, log).notes == ()
    without = _settings(tmp_path, uv_cache_dir)
    notes = resolve(spec, without, new_log()).notes
    assert notes and "torch==2.13.0 resolves to a CUDA build of several GB" in notes[0]
    assert "Put the torch CPU wheel in such a folder" in notes[0]
