"""Every v1 name in v1_names.txt resolves through the azureml hook, or is left out on purpose.

v1_names.txt is made by tools/make_v1_names.py (its header says from what); each line of
v1_names_left_out.txt is ``module:name`` or ``module:*`` followed by the reason.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import textwrap
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
LISTED = HERE / "v1_names.txt"
LEFT_OUT = HERE / "v1_names_left_out.txt"


def _lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _listed() -> list[str]:
    return _lines(LISTED)


def _left_out() -> dict[str, str]:
    """pattern -> reason."""
    found = {}
    for line in _lines(LEFT_OUT):
        pattern, _, reason = line.partition(" ")
        found[pattern] = reason.strip()
    return found


# A fresh interpreter with only the hook installed, as a user's notebook after
# `runyard compat enable`; it prints the entries that do not resolve, with why.
_CHECK = textwrap.dedent(
    """
    import importlib, json, sys
    from runyard.compat import hook

    hook.install()
    failed = {}
    for entry in json.loads(sys.stdin.read()):
        module, _, name = entry.partition(":")
        try:
            loaded = importlib.import_module(module)
            if name:
                getattr(loaded, name)
        except (ImportError, AttributeError) as exc:
            failed[entry] = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    print(json.dumps(failed))
    """
)


@pytest.fixture(scope="module")
def unresolved() -> dict[str, str]:
    """entry -> the error resolving it, for every listed entry that does not resolve."""
    out = subprocess.run(
        [sys.executable, "-c", _CHECK],
        input=json.dumps(_listed()),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def _reason(entry: str, left_out: dict[str, str]) -> str | None:
    for pattern, reason in left_out.items():
        if fnmatch.fnmatchcase(entry, pattern):
            return reason
    return None


def test_every_listed_v1_name_resolves_or_is_left_out_with_a_reason(unresolved):
    left_out = _left_out()
    missing = {e: why for e, why in unresolved.items() if _reason(e, left_out) is None}
    if missing:
        by_module = defaultdict(list)
        for entry, why in sorted(missing.items()):
            by_module[entry.partition(":")[0]].append(f"    {entry}  ({why})")
        pytest.fail(
            f"{len(missing)} v1 name(s) of tests/compat/v1_names.txt do not resolve with the "
            "azureml hook installed, and tests/compat/v1_names_left_out.txt does not leave "
            "them out. Re-export each from the runyard module at its azureml path, or add "
            "'module:name <reason>' to the left-out file:\n"
            + "\n".join(line for lines in by_module.values() for line in lines),
            pytrace=False,
        )


def test_every_left_out_entry_gives_a_reason():
    bare = [pattern for pattern, reason in _left_out().items() if not reason]
    assert not bare, f"entries of v1_names_left_out.txt without a reason: {bare}"


def test_every_left_out_entry_matches_a_listed_name():
    listed = _listed()
    stale = [p for p in _left_out() if not fnmatch.filter(listed, p)]
    assert not stale, (
        f"entries of v1_names_left_out.txt that match nothing in v1_names.txt (a typo, or "
        f"the list changed): {stale}"
    )


def test_no_left_out_entry_resolves_already(unresolved):
    # A pending line is another engineer's to remove when they add the name: their commit
    # must not fail here. Every other line is Runyard's own choice and kept true.
    listed = _listed()
    decided = [p for p, reason in _left_out().items() if not reason.startswith("pending:")]
    resolving = [p for p in decided if fnmatch.filter(listed, p)]
    resolving = [p for p in resolving if not fnmatch.filter(unresolved, p)]
    assert not resolving, (
        f"these entries of v1_names_left_out.txt resolve now; remove them from the file: "
        f"{resolving}"
    )


def _tool():
    import importlib.util

    path = HERE.parents[1] / "tools/make_v1_names.py"
    spec = importlib.util.spec_from_file_location("make_v1_names", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tool_reads_public_names_as_its_header_says(tmp_path):
    wheel = tmp_path / "azureml_fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("azureml/__init__.py", "__path__ = __import__('pkgutil').extend_path()")
        archive.writestr(
            "azureml/core/__init__.py", "from .run import *\n__all__ = ['Run', '_Hidden']\n"
        )
        archive.writestr(
            "azureml/core/run.py",
            "import os\nfrom typing import List\n"
            "from azureml._base import helper\n"
            "from azureml.core.conda_dependencies import CondaDependencies\n"
            "from .environment import Environment as Env\n"
            "LIMIT = 3\n_private = 1\nclass Run: ...\ndef get_run(): ...\n"
            "try:\n    from azureml.data import FileDataset\nexcept ImportError:\n    pass\n"
            "if TYPE_CHECKING:\n    from azureml.core.model import Model\n",
        )
        archive.writestr("azureml/core/_internal.py", "class Secret: ...\n")
    sources = _tool().wheel_modules(wheel)
    assert sorted(sources) == [
        "azureml",
        "azureml.core",
        "azureml.core._internal",
        "azureml.core.run",
    ]
    names = _tool().public_names("azureml.core.run", sources, {"azureml", "azureml.core"})
    assert names == ["CondaDependencies", "Env", "FileDataset", "LIMIT", "Run", "get_run"]
    assert _tool().public_names("azureml.core", sources, {"azureml", "azureml.core"}) == ["Run"]


def test_the_tool_finds_azureml_imports_in_notebook_cells():
    code = (
        "import os, azureml.core\n"
        "from azureml.core import (Workspace,\n    Experiment as Exp)\n"
        "from azureml.train.hyperdrive import *\n"
        "def f():\n    from azureml.widgets import RunDetails\n"
    )
    assert _tool().azureml_imports(code) == {
        "azureml.core",
        "azureml.core:Workspace",
        "azureml.core:Experiment",
        "azureml.widgets:RunDetails",
    }
    # a cell that is not Python (IPython syntax ast cannot read) is read line by line
    assert _tool().azureml_imports("x = !ls\nfrom azureml.core import Run as R, Model\n") == {
        "azureml.core:Run",
        "azureml.core:Model",
    }
