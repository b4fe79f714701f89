"""The job side imports runyard.core.run: it must not pull SQLAlchemy in."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
import textwrap
from collections.abc import Collection
from pathlib import Path

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


def _module_level_imports(path: Path, modules: Collection[str]) -> set[str]:
    """The runyard modules a module's top-level statements import (imports inside
    functions and under ``if TYPE_CHECKING:`` left out)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {name for name in found if name in modules}


def test_the_sdk_module_level_import_graph_has_no_cycle():
    modules = _runyard_modules()
    sdk = ("runyard.core", "runyard.train", "runyard.data", "runyard.opendatasets")
    graph = {
        name: _module_level_imports(path, modules)
        for name, path in modules.items()
        if name.startswith(sdk)
    }
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"module-level import cycle: {' -> '.join(exc.args[1])}") from None


_HEAVY = {"chainer", "cupy", "ray", "optuna", "torch", "matplotlib", "numpy", "pandas", "PIL"}
_HEAVY |= {"IPython", "ipywidgets"}


def _late_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports below module level, those under ``if TYPE_CHECKING:`` left out."""
    skip = {id(node) for node in tree.body}
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING":
            skip.update(id(node) for node in ast.walk(block))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skip
    ]


def test_sdk_late_imports_are_heavy_packages_or_say_why_they_are_late():
    unexplained = []
    for name, path in _runyard_modules().items():
        if not name.startswith(
            ("runyard.core", "runyard.train", "runyard.data", "runyard.opendatasets")
        ):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in _late_imports(ast.parse("\n".join(lines))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if all((n or "").split(".")[0] in _HEAVY for n in names):
                continue
            if not lines[node.lineno - 2].strip().startswith("# late:"):
                unexplained.append(f"{name}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert unexplained == []
