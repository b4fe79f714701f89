"""How a bench prints its figures when run on its own (benchmarks/run.py prints a table)."""

from __future__ import annotations

from collections.abc import Mapping


def print_figures(figures: Mapping[str, object]) -> None:
    """One line per figure: its name, then its value (floats with 3 decimals)."""
    width = max((len(key) for key in figures), default=0)
    for key, value in figures.items():
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"{key:{width}}  {shown:>16}")
