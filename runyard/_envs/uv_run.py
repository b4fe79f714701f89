"""Running uv for a build: streamed into the build log (venv, install) or captured
(``uv pip compile`` checks), never downloading a Python."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from runyard._envs.build_settings import BuildSettings
from runyard._envs.pins import UvCompile
from runyard.exceptions import EnvironmentBuildFailed, EnvironmentBuildStopped

LogFn = Callable[[str], None]
_TAIL_LINES = 60
_POLL_SECONDS = 0.25  # how often a build checks its timeout and should_stop
_COMPILE_TIMEOUT = 300.0  # one resolution check; they take well under a second from cache


def _common(settings: BuildSettings) -> list[str]:
    args = ["--color", "never", "--no-python-downloads"]
    if settings.uv_cache_dir is not None:
        args += ["--cache-dir", str(settings.uv_cache_dir)]
    return args


def _environment(settings: BuildSettings) -> dict[str, str] | None:
    # uv inherits this process's environment; pip's cert and timeout are added to it.
    return {**os.environ, **settings.uv_env} if settings.uv_env else None


def compile_runner(settings: BuildSettings, spec_hash: str = "") -> UvCompile:
    """``uv pip compile -`` with the given arguments and stdin: (exit code, output).

    Raises:
        EnvironmentBuildStopped: settings.should_stop() is True before a call.
    """

    def run(args: list[str], requirements: str) -> tuple[int, str]:
        if settings.should_stop is not None and settings.should_stop():
            raise EnvironmentBuildStopped(spec_hash, "resolving its pins")
        cmd = [settings.uv, "pip", "compile", "-", "--quiet", "--no-header", "--no-annotate"]
        try:
            proc = subprocess.run(
                [*cmd, *args, *_common(settings)],
                input=requirements,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=min(settings.timeout_seconds, _COMPILE_TIMEOUT),
                cwd=settings.envs_root,
                env=_environment(settings),
            )
        except subprocess.TimeoutExpired:
            # Treated as "no answer": the pin is left as written and the install decides.
            return 124, f"uv pip compile gave no answer in {_COMPILE_TIMEOUT:.0f} s"
        return proc.returncode, proc.stdout + proc.stderr

    return run


def run_streaming(
    cmd: Sequence[str], settings: BuildSettings, log: LogFn, spec_hash: str, step: str
) -> None:
    """Runs uv, every line of its output into ``log``.

    Raises:
        EnvironmentBuildFailed: uv failed (its last lines in the message).
        EnvironmentBuildStopped: settings.should_stop() turned True; uv was killed.
    """
    full = [*cmd, *_common(settings)]
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
        env=_environment(settings),
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
