"""Build an EnvSpec into a uv virtualenv, cached at ``<envs_root>/<environment key>``.

- The key covers the definition (``spec.hash``), the machine's pip configuration (options
  and the contents of its constraint files and find-links folders), the interpreter, and
  the substitutions of rotten pins (``resolution``).
- Cache hit: ``<base key>.resolution.json`` and ``<key>/runyard-env.json`` exist. The
  marker is written last inside the temporary build folder, which is then renamed into
  place, so the hit path is two small reads: no lock, no subprocess.
- Miss: take ``fcntl.flock`` on ``<spec hash>.lock``; a process that waited finds the
  marker and reuses the environment. The build happens in ``.<spec hash>.tmp-<pid>``; a
  failure removes it, so nothing half-built is ever visible.
- uv comes from PyPI and is told never to download a Python. A requested Python that is
  not on this machine falls back to the host interpreter, with a warning in the build log.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runyard._config import PRIVATE_DIR_MODE, make_private_dir
from runyard._envs.build_settings import BuildSettings, default_build_settings
from runyard._envs.resolution import (
    Resolution,
    base_key,
    check_strict,
    read_record,
    resolve,
    uv_pip_options,
    write_record,
)
from runyard._envs.spec import EnvSpec
from runyard._envs.uv_run import run_streaming
from runyard.exceptions import EnvironmentBuildStopped, InvalidEnvironmentDefinition

__all__ = [
    "MARKER",
    "BuildSettings",
    "BuiltEnv",
    "default_build_settings",
    "ensure_env",
    "env_python",
    "lookup",
]

MARKER = "runyard-env.json"
LogFn = Callable[[str], None]
_POLL_SECONDS = 0.25  # how often a waiting build checks should_stop


@dataclass(frozen=True, slots=True)
class BuiltEnv:
    spec_hash: str | None  # the environment key; None for user-managed environments
    path: Path | None
    python: str  # the interpreter a job runs with
    python_version: str
    cached: bool


def env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def lookup(envs_root: Path, key: str) -> BuiltEnv | None:
    """The built environment for this key, or None. No subprocess, no lock."""
    marker = envs_root / key / MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    # The marker's mtime is the environment's last use, for prune(older_than=...).
    os.utime(marker)
    path = envs_root / key
    return BuiltEnv(key, path, str(env_python(path)), data["python_version"], True)


def ensure_env(spec: EnvSpec, settings: BuildSettings, log: LogFn) -> BuiltEnv:
    """The environment for ``spec``: reused from the cache or built now.

    Raises:
        EnvironmentBuildFailed: uv failed; the message carries uv's own output.
        EnvironmentBuildStopped: settings.should_stop() turned True; nothing was kept.
        PinNotInstallable: strict pins, and a pin (or the Python) has no build here.
    """
    if spec.user_managed:
        return _user_managed(spec, settings, log)
    root = settings.envs_root
    strict = settings.strict_pins if spec.strict_pins is None else spec.strict_pins
    base = base_key(spec, settings)
    found = _cached(root, base, settings, log, strict)
    if found is not None:
        log(
            f"Environment {str(found.spec_hash)[:12]} found in the cache at {found.path}; "
            "reusing it."
        )
        return found
    make_private_dir(root, tighten_from=root)
    with _locked(root / f"{spec.hash}.lock", log, spec.hash, settings.should_stop):
        found = _cached(root, base, settings, log, strict)
        if found is not None:
            log(f"Environment {str(found.spec_hash)[:12]} was built by another run; reusing it.")
            return found
        resolution = resolve(spec, settings, log)
        for line in resolution.warnings(settings.host_python):
            log(line)
        check_strict(resolution, strict=strict)
        key = resolution.key(base)
        built = lookup(root, key)
        if built is None:
            built = _build(spec, resolution, key, settings, log)
        else:
            log(f"Environment {key[:12]} found in the cache at {built.path}; reusing it.")
        write_record(root, base, resolution)
        return built


def _cached(
    root: Path, base: str, settings: BuildSettings, log: LogFn, strict: bool
) -> BuiltEnv | None:
    resolution = read_record(root, base)
    if resolution is None:
        return None
    found = lookup(root, resolution.key(base))
    if found is None:
        return None
    for line in resolution.warnings(settings.host_python):
        log(line)
    check_strict(resolution, strict=strict)
    return found


def _user_managed(spec: EnvSpec, settings: BuildSettings, log: LogFn) -> BuiltEnv:
    python = spec.interpreter_path or "python"
    if python == "python":  # v1's default means "the interpreter on the image"
        python = settings.host_python
    elif shutil.which(python) is None:
        raise InvalidEnvironmentDefinition(
            f"python.interpreter_path {python!r} is not an executable on this node, and "
            "python.user_managed_dependencies=True means Runyard runs exactly that "
            "interpreter. Set env.python.interpreter_path to an existing Python (for "
            "example sys.executable), or set user_managed_dependencies=False to have "
            "Runyard build the environment."
        )
    log(f"userManagedDependencies=True: running with {python}, no environment built.")
    return BuiltEnv(None, None, python, "", True)


class _locked:
    def __init__(
        self, path: Path, log: LogFn, spec_hash: str, should_stop: Callable[[], bool] | None
    ) -> None:
        self._path, self._log, self._hash, self._stop = path, log, spec_hash, should_stop

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        waiting = False
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if not waiting:
                    self._log(
                        f"Another process is building environment {self._hash[:12]}; "
                        "waiting for it."
                    )
                    waiting = True
            if self._stop is not None and self._stop():
                os.close(self._fd)
                raise EnvironmentBuildStopped(self._hash, "waiting for another build of it")
            time.sleep(_POLL_SECONDS)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _build(
    spec: EnvSpec, resolution: Resolution, key: str, settings: BuildSettings, log: LogFn
) -> BuiltEnv:
    root = settings.envs_root
    final = root / key
    # We hold the lock, so leftovers of this definition are from a killed build.
    for stale in root.glob(f".{spec.hash}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if final.exists():
        shutil.rmtree(final)
    tmp = root / f".{spec.hash}.tmp-{os.getpid()}"
    started = time.monotonic()
    log(f"Building environment {key[:12]} with uv into {final}")
    uv_options = uv_pip_options(spec, settings)
    try:
        run_streaming(
            [
                settings.uv,
                "venv",
                "--relocatable",
                "--no-project",
                "--python",
                resolution.interpreter,
                str(tmp),
            ],
            settings,
            log,
            key,
            "creating the virtualenv",
        )
        python = str(env_python(tmp))
        if spec.pre_install:
            _pip_install(
                python,
                list(spec.pip_options) + list(spec.pre_install),
                uv_options,
                settings,
                log,
                key,
                "installing the build prerequisites",
                tmp / "runyard-pre-install.txt",
            )
        requirements = resolution.requirements(spec)
        if requirements:
            flags = [f"--no-build-isolation-package={p}" for p in spec.no_build_isolation]
            if spec.constraints:
                (tmp / "runyard-constraints.txt").write_text("\n".join(spec.constraints) + "\n")
                flags += ["--constraint", str(tmp / "runyard-constraints.txt")]
            _pip_install(
                python,
                list(spec.pip_options) + list(requirements),
                flags + uv_options,
                settings,
                log,
                key,
                "installing the packages",
                tmp / "runyard-requirements.txt",
            )
        version = _venv_version(tmp)
        marker = {
            "spec_hash": key,
            "definition_hash": spec.hash,
            "spec": json.loads(spec.canonical_json()),
            "resolution": resolution.to_dict(),
            "pip_configuration": settings.pip.describe(),
            "python_version": version,
            "base_interpreter": resolution.interpreter,
            "built_at": time.time(),
            "build_seconds": round(time.monotonic() - started, 3),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        os.chmod(tmp, PRIVATE_DIR_MODE)  # uv made it under the builder's umask
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"Environment {key[:12]} built in {time.monotonic() - started:.1f} s (Python {version}).")
    return BuiltEnv(key, final, str(env_python(final)), version, False)


def _pip_install(
    python: str,
    lines: list[str],
    flags: list[str],
    settings: BuildSettings,
    log: LogFn,
    key: str,
    step: str,
    req_file: Path,
) -> None:
    req_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_streaming(
        [settings.uv, "pip", "install", "--python", python, *flags, "-r", str(req_file)],
        settings,
        log,
        key,
        step,
    )


def _venv_version(env_dir: Path) -> str:
    for line in (env_dir / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return ""
