"""Shared fixtures: an isolated RUNYARD_HOME per test, and a fresh embedded workspace."""

from __future__ import annotations

from pathlib import Path

import pytest


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
    close_all()


def _stop_agents(home: Path) -> None:
    """Stops every agent a test started under its RUNYARD_HOME, so none outlives the test."""
    from runyard._config import WorkspaceLayout
    from runyard._services.agent import stop_agent

    for root in sorted((home / "workspaces").glob("*")):
        if (root / "agent").is_dir():
            stop_agent(WorkspaceLayout(root), timeout=30)


@pytest.fixture
def ws(runyard_home: Path):
    """A new embedded workspace named 'test-ws' (SQLite file under tmp_path)."""
    from runyard.core import Workspace

    return Workspace.create("test-ws", show_output=False)
