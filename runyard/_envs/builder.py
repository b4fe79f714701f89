"""Build an EnvSpec into a uv virtualenv, cached at ``<envs_root>/<spec hash>``.

- Cache hit: ``<hash>/runyard-env.json`` exists. The marker is written last inside the
  temporary build folder, which is then renamed into place, so the hit path is one
  ``stat`` and one small read: no lock, no subprocess.
- Miss: take ``fcntl.flock`` on ``<hash>.lock``; a process that waited finds the marker
  and reuses the environment. The build happens in ``.<hash>.tmp-<pid>`` next to the
  entry; a failure removes it, so nothing half-built is ever visible.
- uv comes from PyPI and is told never to download a Python. A requested Python that is
  not on this machine falls back to the host interpreter, with a warning in the build log.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from uv import find_uv_bin

from runyard._config import PRIVATE_DIR_MODE, make_private_dir
from runyard._envs.spec import EnvSpec
from runyard.exceptions import (
    EnvironmentBuildFailed,
    EnvironmentBuildStopped,
    InvalidEnvironmentDefinition,
)

MARKER = "runyard-env.json"
LogFn = Callable[[str], None]
_TAIL_LINES = 60
_POLL_SECONDS = 0.25  # how often a build checks its timeout and should_stop


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """Where and how to build. ``host_python`` is the fallback interpreter."""

    envs_root: Path
    uv: str
    host_python: str
    uv_cache_dir: Path | None = None
    timeout_seconds: float = 3600.0
    # Polled while uv runs and while waiting for another build's lock: True stops the build
    # (the run was canceled, or its agent is stopping) and nothing is kept.
    should_stop: Callable[[], bool] | None = None


def default_build_settings(
    home: Path, *, host_python: str, uv_cache_dir: Path | None = None
) -> BuildSettings:
    """Envs under ``<RUNYARD_HOME>/envs``, built with the uv binary of the uv PyPI package."""
    return BuildSettings(
        envs_root=home / "envs",
        uv=find_uv_bin(),
        host_python=host_python,
        uv_cache_dir=uv_cache_dir,
    )


@dataclass(frozen=True, slots=True)
class BuiltEnv:
    spec_hash: str | None  # None for user-managed environments
    path: Path | None
    python: str  # the interpreter a job runs with
    python_version: str
    cached: bool


def env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def lookup(envs_root: Path, spec_hash: str) -> BuiltEnv | None:
    """The built environment for this hash, or None. No subprocess, no lock."""
    marker = envs_root / spec_hash / MARKER
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    # The marker's mtime is the environment's last use, for prune(older_than=...).
    os.utime(marker)
    path = envs_root / spec_hash
    return BuiltEnv(spec_hash, path, str(env_python(path)), data["python_version"], True)


def ensure_env(spec: EnvSpec, settings: BuildSettings, log: LogFn) -> BuiltEnv:
    """The environment for ``spec``: reused from the cache or built now.

    Raises:
        EnvironmentBuildFailed: uv failed; the message carries uv's own output.
        EnvironmentBuildStopped: settings.should_stop() turned True; nothing was kept.
    """
    if spec.user_managed:
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
    spec_hash = spec.hash
    found = lookup(settings.envs_root, spec_hash)
    if found is not None:
        log(f"Environment {spec_hash[:12]} found in the cache at {found.path}; reusing it.")
        return found
    make_private_dir(settings.envs_root, tighten_from=settings.envs_root)
    with _locked(settings.envs_root / f"{spec_hash}.lock", log, spec_hash, settings.should_stop):
        found = lookup(settings.envs_root, spec_hash)
        if found is not None:
            log(f"Environment {spec_hash[:12]} was built by another run; reusing it.")
            return found
        return _build(spec, spec_hash, settings, log)


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


def _build(spec: EnvSpec, spec_hash: str, settings: BuildSettings, log: LogFn) -> BuiltEnv:
    root = settings.envs_root
    final = root / spec_hash
    # We hold the lock, so leftovers of this hash are from a killed build.
    for stale in root.glob(f".{spec_hash}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if final.exists():
        shutil.rmtree(final)
    tmp = root / f".{spec_hash}.tmp-{os.getpid()}"
    started = time.monotonic()
    log(f"Building environment {spec_hash[:12]} with uv into {final}")
    try:
        interpreter = _pick_python(spec.python_version, settings, log)
        _run(
            [
                settings.uv,
                "venv",
                "--relocatable",
                "--no-project",
                "--python",
                interpreter,
                str(tmp),
            ],
            settings,
            log,
            spec_hash,
            "creating the virtualenv",
        )
        python = str(env_python(tmp))
        if spec.pre_install:
            _pip_install(
                python,
                list(spec.pip_options) + list(spec.pre_install),
                [],
                settings,
                log,
                spec_hash,
                "installing the build prerequisites",
                tmp / "runyard-pre-install.txt",
            )
        if spec.requirements:
            flags = [f"--no-build-isolation-package={p}" for p in spec.no_build_isolation]
            if spec.constraints:
                (tmp / "runyard-constraints.txt").write_text("\n".join(spec.constraints) + "\n")
                flags += ["--constraint", str(tmp / "runyard-constraints.txt")]
            _pip_install(
                python,
                list(spec.pip_options) + list(spec.requirements),
                flags,
                settings,
                log,
                spec_hash,
                "installing the packages",
                tmp / "runyard-requirements.txt",
            )
        version = _venv_version(tmp)
        marker = {
            "spec_hash": spec_hash,
            "spec": json.loads(spec.canonical_json()),
            "python_version": version,
            "base_interpreter": interpreter,
            "built_at": time.time(),
            "build_seconds": round(time.monotonic() - started, 3),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        os.chmod(tmp, PRIVATE_DIR_MODE)  # uv made it under the builder's umask
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(
        f"Environment {spec_hash[:12]} built in {time.monotonic() - started:.1f} s "
        f"(Python {version})."
    )
    return BuiltEnv(spec_hash, final, str(env_python(final)), version, False)


def _pick_python(requested: str | None, settings: BuildSettings, log: LogFn) -> str:
    if requested is None:
        return settings.host_python
    proc = subprocess.run(
        [settings.uv, "python", "find", "--no-python-downloads", "--no-project", requested],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.envs_root,
    )
    found = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and found:
        log(f"Python {requested} requested; using {found[-1]}.")
        return found[-1]
    log(
        f"WARNING: Python {requested} is not installed on this machine and Runyard does not "
        f"download interpreters; using the host Python {settings.host_python} instead. "
        "Install that Python (e.g. with pyenv or apt) or set the environment's python "
        "version to one that is installed to silence this."
    )
    return settings.host_python


def _pip_install(
    python: str,
    lines: list[str],
    flags: list[str],
    settings: BuildSettings,
    log: LogFn,
    spec_hash: str,
    step: str,
    req_file: Path,
) -> None:
    req_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _run(
        [settings.uv, "pip", "install", "--python", python, *flags, "-r", str(req_file)],
        settings,
        log,
        spec_hash,
        step,
    )


def _run(
    cmd: Sequence[str], settings: BuildSettings, log: LogFn, spec_hash: str, step: str
) -> None:
    full = [cmd[0], *cmd[1:], "--color", "never", "--no-python-downloads"]
    if settings.uv_cache_dir is not None:
        full += ["--cache-dir", str(settings.uv_cache_dir)]
    log("$ " + " ".join(full))
    tail: list[str] = []
    with subprocess.Popen(
        full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        cwd=settings.envs_root,
        start_new_session=True,  # so a kill reaches the build backends uv started too
    ) as proc:
        # A watchdog thread, because a hung uv prints nothing that a per-line check could
        # see; it also stops the build when settings.should_stop says so.
        timed_out, stopped, done = threading.Event(), threading.Event(), threading.Event()
        deadline = time.monotonic() + settings.timeout_seconds

        def watch() -> None:
            while not done.wait(_POLL_SECONDS):
                if time.monotonic() > deadline:
                    timed_out.set()
                elif settings.should_stop is not None and settings.should_stop():
                    stopped.set()
                else:
                    continue
                _kill_group(proc)
                return

        watchdog = threading.Thread(target=watch, name="uv-watchdog", daemon=True)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                log(line)
                tail.append(line)
                del tail[:-_TAIL_LINES]
            code = proc.wait()
        finally:
            done.set()
            watchdog.join()
            if proc.poll() is None:
                _kill_group(proc)
    if stopped.is_set():
        raise EnvironmentBuildStopped(spec_hash, step)
    if timed_out.is_set():
        tail.append(f"(killed after the build timeout of {settings.timeout_seconds:.0f} s)")
    if code != 0:
        raise EnvironmentBuildFailed(spec_hash, step, "\n".join(tail))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)


def _venv_version(env_dir: Path) -> str:
    for line in (env_dir / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return ""
