"""Runs one worker script of a group released at the same instant (start_together fixture).

python tests/barrier.py <script> <args>...: runs <script>'s module code, so that its imports
are done, says so with <$RUNYARD_TEST_BARRIER>/<$RUNYARD_TEST_WORKER>.ready, waits until the
test creates <$RUNYARD_TEST_BARRIER>/go, then calls the script's main() with sys.argv set to
[<script>, <args>...].
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path


def main() -> None:
    script = sys.argv[1]
    worker = runpy.run_path(script, run_name="__worker__")
    barrier = Path(os.environ["RUNYARD_TEST_BARRIER"])
    (barrier / f"{os.environ['RUNYARD_TEST_WORKER']}.ready").touch()
    deadline = time.monotonic() + 300
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:  # the test is gone: do not linger
            raise SystemExit(f"no go in {barrier} after 300 s")
        time.sleep(0.001)
    sys.argv = sys.argv[1:]
    worker["main"]()


if __name__ == "__main__":
    main()
