"""Runs every benchmarks/bench_*.py and prints one table of their figures.

Each bench module has ``main() -> dict`` returning its figures (names to numbers or
strings); the ratios against baselines are computed inside each bench, in the same run.
Usage: python benchmarks/run.py [name-filter ...]
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    console = Console()
    table = Table(title="Runyard benchmarks")
    table.add_column("bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    failed = 0
    for path in sorted(HERE.glob("bench_*.py")):
        if argv and not any(f in path.stem for f in argv):
            continue
        console.rule(path.stem)
        started = time.perf_counter()
        try:
            figures = _load(path).main()
        except Exception:  # a broken bench must not hide the others' figures
            traceback.print_exc()
            table.add_row(path.stem, "ERROR", "see traceback above")
            failed += 1
            continue
        for key, value in figures.items():
            shown = f"{value:,.4g}" if isinstance(value, float) else str(value)
            table.add_row(path.stem, key, shown)
        table.add_row(path.stem, "(bench wall time, s)", f"{time.perf_counter() - started:.1f}")
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
