"""Shared fixtures: an isolated RUNYARD_HOME per test, a fresh embedded workspace with its
Services, source folders, and factories (fixtures returning a callable) used across folders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Kept between test runs (gitignored) so builds after the first hit uv's cache.
PERSISTENT_ENVS = REPO / ".pytest_cache" / "runyard-envs"
BARRIER = Path(__file__).with_name("barrier.py")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def persistent_envs_dir() -> Path:
    """Environments (and uv's cache) kept between test runs, under .pytest_cache."""
    return PERSISTENT_ENVS


@pytest.fixture(scope="session")
def uv_cache_dir(persistent_envs_dir: Path) -> Path:
    path = persistent_envs_dir / "uv-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def job_uv_cache(uv_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """UV_CACHE_DIR for agents started by the test: builds after the first hit uv's cache.
    Request it before anything starts the agent (which uv inherits it from)."""
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache_dir))
    return uv_cache_dir


@pytest.fixture
def runyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """RUNYARD_HOME under tmp_path; the cwd is an empty folder next to it."""
    from runyard._services import close_all

    home = tmp_path / "runyard-home"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("RUNYARD_HOME", str(home))
    monkeypatch.delenv("RUNYARD_STORE_URI", raising=False)
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    monkeypatch.delenv("AZUREML_RUN_ID", raising=False)
    monkeypatch.chdir(cwd)
    yield home
    _stop_agents(home)
    _stop_services(home)
    close_all()


def _stop_agents(home: Path) -> None:
    """Stops every agent a test started under its RUNYARD_HOME, so none outlives the test."""
    from runyard._config import WorkspaceLayout
    from runyard._services.agent_client import stop_agent

    for root in sorted((home / "workspaces").glob("*")):
        if (root / "agent").is_dir():
            stop_agent(WorkspaceLayout(root), timeout=30)


def _stop_services(home: Path) -> None:
    """Stops the web services a test deployed under its RUNYARD_HOME (their host processes
    live in sessions of their own, so they outlive the agent by design)."""
    from runyard._serving.local import LocalServing

    for root in sorted((home / "workspaces").glob("*")):
        folder = root / "services"
        if folder.is_dir():
            serving = LocalServing(folder)
            for service in sorted(p.name for p in folder.iterdir() if p.is_dir()):
                serving.delete(service)


@pytest.fixture
def ws(runyard_home: Path):
    """A new embedded workspace named 'test-ws' (SQLite file under tmp_path)."""
    from runyard.core import Workspace

    return Workspace.create("test-ws", show_output=False)


@pytest.fixture
def services(ws, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The workspace's Services; whatever agent the test started is stopped afterwards."""
    from runyard._services.agent_client import stop_agent

    monkeypatch.setenv("RUNYARD_AGENT_IDLE_SECONDS", "120")
    services = ws._services
    yield services
    stop_agent(services.layout, timeout=30)


@pytest.fixture
def source(tmp_path: Path) -> Callable[..., Path]:
    """Writes files into a fresh source directory: source(**{"train.py": "print(1)"})."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes] | None = None, **named: str) -> Path:
        root = tmp_path / f"src{next(counter)}"
        root.mkdir()
        for rel, content in {**(files or {}), **named}.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return root

    return make


def _wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


@pytest.fixture
def wait_until() -> Callable[..., object]:
    """wait_until(predicate, timeout=30.0, what=""): polls until predicate() is truthy and
    returns its value, or fails naming `what`."""
    return _wait_until


def _driver_log(services, run_id: str) -> str:
    return services.artifacts.read_bytes(f"runs/{run_id}/azureml-logs/70_driver_log.txt").decode()


@pytest.fixture
def driver_log() -> Callable[..., str]:
    """driver_log(services, run_id): the run's uploaded 70_driver_log.txt."""
    return _driver_log


def _build_log(services, run_id: str) -> str:
    key = f"runs/{run_id}/azureml-logs/20_image_build_log.txt"
    return services.artifacts.read_bytes(key).decode()


@pytest.fixture
def build_log() -> Callable[..., str]:
    """build_log(services, run_id): the run's uploaded 20_image_build_log.txt."""
    return _build_log


def _six_env(name: str = "six-env", packages: tuple[str, ...] = ("six",)):
    from runyard.core.conda_dependencies import CondaDependencies
    from runyard.core.environment import Environment

    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=list(packages), python_version="3.11"
    )
    return env


@pytest.fixture
def six_env() -> Callable:
    """six_env(name="six-env", packages=("six",)): a small Environment uv builds quickly."""
    return _six_env


@pytest.fixture
def start_together(tmp_path: Path, wait_until) -> Callable[..., list[subprocess.Popen]]:
    """start_together(scripts_with_args, **popen_kwargs): starts `python <script> <args>...`
    for each, through tests/barrier.py, and returns the processes once every one has done
    its imports and waits at the barrier, releasing them all at the same instant."""
    counter = iter(range(1000))

    def start(commands: Sequence[Sequence[str]], **popen_kwargs) -> list[subprocess.Popen]:
        barrier = tmp_path / f"barrier{next(counter)}"
        barrier.mkdir()
        env = popen_kwargs.pop("env", None) or dict(os.environ)
        procs = [
            subprocess.Popen(
                [sys.executable, str(BARRIER), *command],
                env={**env, "RUNYARD_TEST_BARRIER": str(barrier), "RUNYARD_TEST_WORKER": str(i)},
                **popen_kwargs,
            )
            for i, command in enumerate(commands)
        ]

        def all_ready() -> bool:
            exited = [p for p in procs if p.poll() is not None]
            if exited:
                details = [
                    f"{p.args}: exit code {p.returncode}"
                    + (f"\n{p.stderr.read()}" if p.stderr is not None else "")
                    for p in exited
                ]
                raise AssertionError("workers exited before the barrier:\n" + "\n".join(details))
            return len(list(barrier.glob("*.ready"))) == len(procs)

        try:
            wait_until(all_ready, 120, f"{len(procs)} workers to reach the barrier in {barrier}")
        except AssertionError:
            for proc in procs:
                proc.kill()
                proc.wait()
            raise
        (barrier / "go").touch()
        return procs

    return start


def skip_without_private_mounts() -> None:
    """Skips (with the reason) where a test cannot mount a tmpfs in a private mount
    namespace: it needs root and ``unshare -m`` (CI runs as root)."""
    import os
    import shutil

    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) for a private tmpfs mount")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is refused here: {probe.stderr.strip()}")
