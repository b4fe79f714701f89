"""HOUSE_STYLE.md habits, checked: strict mypy on the typed layers, plain mypy on the SDK,
ruff lint and format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TYPED = ["runyard/_store", "runyard/_services", "runyard/_compute", "runyard/_entities.py"]
TYPED += ["runyard/_serving", "runyard/scoring"]
# plain mypy (no strict flags)
SDK = ["runyard/core", "runyard/train", "runyard/data", "runyard/widgets"]
LINTED = ["runyard", "tests", "benchmarks", "tools"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _report(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(proc.args[2:])} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"


def _mypy(tmp_path: Path, paths: list[str]) -> subprocess.CompletedProcess[str]:
    cache = str(tmp_path / "mypy_cache")
    return _run("mypy", "--config-file", "pyproject.toml", "--cache-dir", cache, *paths)


def test_typed_layers_pass_mypy(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, TYPED)
    assert proc.returncode == 0, _report(proc)


def test_sdk_passes_plain_mypy(tmp_path: Path) -> None:
    proc = _mypy(tmp_path, SDK)
    assert proc.returncode == 0, _report(proc)


def test_sources_pass_ruff_check_and_format() -> None:
    check = _run("ruff", "check", "--no-cache", *LINTED)
    assert check.returncode == 0, _report(check)
    fmt = _run("ruff", "format", "--check", "--no-cache", *LINTED)
    assert fmt.returncode == 0, _report(fmt)
