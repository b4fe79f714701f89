"""The first-line stamp that submit-latency benchmarks put at the top of their scripts."""

from __future__ import annotations

STAMP = "import time\nprint('FIRST', repr(time.time()), flush=True)\n"


def first_line_time(text: str) -> float:
    """The time.time() the script printed first thing, read back from its output."""
    for line in text.splitlines():
        if line.startswith("FIRST "):
            return float(line.split()[1])
    raise RuntimeError(f"no FIRST line in {text[-800:]!r}")
