"""One tutorial run per session: the quickstart test checks it, the deployment test serves
its registered model."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tutorial(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Any:
    """The quickstart tutorial (4 epochs) in a RUNYARD_HOME of its own: (result, printed
    output, home). Its agent and services are stopped at the session's end."""
    from runyard._config import WorkspaceLayout
    from runyard._services import close_all
    from runyard._services.agent_client import stop_agent
    from runyard._serving.local import LocalServing
    from runyard.quickstart.chainer_tutorial import run_tutorial

    root = tmp_path_factory.mktemp("tutorial")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(root / "home"))
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        for name in ("RUNYARD_STORE_URI", "AZUREML_MODEL_DIR", "AZUREML_RUN_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = run_tutorial(root / "project", epochs=4)
        sys.stdout.write(out.getvalue())
        yield result, out.getvalue(), root
        for ws_root in sorted((root / "home" / "workspaces").glob("*")):
            layout = WorkspaceLayout(ws_root)
            stop_agent(layout, timeout=30)
            serving = LocalServing(layout.services_dir)
            for folder in sorted(layout.services_dir.glob("*")):
                serving.delete(folder.name)
        close_all()
