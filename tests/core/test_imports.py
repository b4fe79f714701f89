"""The job side imports runyard.core.run: it must not pull SQLAlchemy in."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runyard


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


# What a submitted job's uv-built environment may lack: it gets only Runyard's source.
_NOT_IN_JOBS = ("sqlalchemy", "alembic", "fsspec", "pathspec", "yaml", "packaging", "rich", "typer")


def test_every_sdk_module_imports_without_the_store_and_cli_libraries():
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in {_NOT_IN_JOBS!r}:
                    raise ImportError(f"{{name}} is not installed in a job's environment")
                return None

        sys.meta_path.insert(0, Refuse())
        import runyard.core, runyard.data, runyard.train

        failed = []
        for package in (runyard.core, runyard.train, runyard.data):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                try:
                    importlib.import_module(module.name)
                except ImportError as exc:
                    failed.append(f"{{module.name}}: {{exc}}")
        print(failed)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_runyard_core_loads_none_of_its_modules():
    code = (
        "import sys, runyard.core\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'runyard'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['runyard', 'runyard.core']"


def _runyard_modules() -> dict[str, Path]:
    root = Path(runyard.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


# What a job's start (Run.get_context(), run.log) must not import: it is paid by every job.
_NOT_AT_A_JOBS_START = (
    "runyard._compute",
    "runyard._envs",
    "runyard._store.sql",
    "runyard._services.jobs",
    "runyard._services.follow",
    "runyard._services.snapshots",
    "runyard._services.agent_client",
    "runyard._services.job_channel",
    "runyard._services.compute",
    "runyard._services.environments",
    "runyard._services.datasets",
    "runyard._services.datastores",
    "runyard._services.registry",
    "runyard._services.run_details",
    "runyard._services.metrics",
    "runyard.core.compute",
    "runyard.core.environment",
    "runyard.core.dataset",
    "runyard.core.datastore",
    "runyard.core.model",
    # A submitted run makes its Workspace and Experiment on first use: logging needs neither.
    "runyard.core.workspace",
    "runyard.core.experiment",
    "runyard._services.workspaces",
    "runyard._services.runs",
    "runyard.data",
    "runyard.train",
)


@pytest.mark.parametrize("submitted", [True, False], ids=["submitted", "offline"])
def test_a_jobs_start_imports_only_what_logging_needs(tmp_path, submitted):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "RUNYARD_"))}
    if submitted:
        env.update(
            AZUREML_RUN_ID="exp_1_abc",
            AZUREML_ARM_PROJECT_NAME="exp",
            AZUREML_ARM_WORKSPACE_NAME="w",
            RUNYARD_WORKSPACE_DIR=str(tmp_path),
            RUNYARD_SPOOL=str(tmp_path / "spool.bin"),
        )
    code = (
        "import sys\nfrom runyard.core.run import Run\n"
        "run = Run.get_context()\nrun.log('loss', 0.5)\n"
        "print('LOADED', type(run).__name__, *sorted(m for m in sys.modules if "
        "m.startswith('runyard')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    kind, *loaded = out.stdout.split("LOADED ")[1].split()
    assert kind == ("_SubmittedRun" if submitted else "_OfflineRun")
    too_much = [m for m in loaded if m.startswith(_NOT_AT_A_JOBS_START)]
    assert not too_much, f"a job's start imports {too_much}; import them where they are used"
