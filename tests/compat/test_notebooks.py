"""The vendored v1 sample notebooks that run in a few minutes, cell by cell in a real kernel
through tools/run_notebooks.py: every cell not in skipped_cells.yml passes. The others (the
HyperDrive and Chainer samples) take longer; run them with the runner (README)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = ["train-on-local", "logging-api", "manage-runs", "train-on-amlcompute", "using-environments"]

pytestmark = pytest.mark.timeout(600)


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "tools/run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The kernel venv (compat enabled) and its kernelspec, shared by the notebooks."""
    scratch = tmp_path_factory.mktemp("notebooks")
    python = runner.make_kernel_python(scratch)
    return {
        "scratch": scratch,
        "python": python,
        "kernels": runner.write_kernelspec(scratch, python),
    }


def test_the_skip_table_matches_the_notebooks() -> None:
    skips = runner.load_skips()
    assert set(skips) <= set(runner.notebook_names())
    assert all(
        skip.reason in runner.SKIP_REASONS for cells in skips.values() for skip in cells.values()
    )


@pytest.mark.parametrize("name", FAST)
def test_notebook_runs_unchanged(name: str, kernel: dict) -> None:
    result = runner.run_notebook(
        name,
        skips=runner.load_skips().get(name, {}),
        timeout_per_cell=300,
        timeout_per_notebook=480,
        echo=False,
        **kernel,
    )
    failed = "\n".join(runner.format_cell(cell) for cell in result.failed)
    assert result.failed == [], f"{name}: cells failed:\n{failed}"
    assert result.totals()[runner.PASS] > 10  # the notebook really ran
