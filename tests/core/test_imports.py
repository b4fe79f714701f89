"""The job side imports runyard.core.run: it must not pull SQLAlchemy in."""

from __future__ import annotations

import subprocess
import sys


def test_importing_core_and_run_does_not_import_sqlalchemy():
    code = (
        "import sys, runyard.core, runyard.core.run, runyard.core.workspace, "
        "runyard.core.experiment\n"
        "from runyard.core import Run, Workspace, Experiment, Model, ScriptRunConfig\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_job_side_objects_open_nothing(tmp_path):
    code = (
        "import sys\n"
        "from runyard._config import WorkspaceLayout\n"
        "from runyard.core import Workspace, Experiment, Run\n"
        f"ws = Workspace._from_layout(WorkspaceLayout({str(tmp_path)!r}), name='w-1', "
        "subscription_id='s', resource_group='r')\n"
        "run = Run(Experiment(ws, 'exp', _create_in_cloud=False), 'exp_1_abc')\n"
        "print(run.id, ws.name, 'sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "exp_1_abc w-1 False"
    assert list(tmp_path.iterdir()) == []
