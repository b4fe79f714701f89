"""`import runyard` (and the SDK's compute names, RayCompute included) never imports Ray:
it is an optional extra (runyard[ray]) loaded only where a Ray target is used."""

from __future__ import annotations

import subprocess
import sys


def test_the_sdk_and_its_compute_names_do_not_import_ray() -> None:
    code = (
        "import sys, runyard, runyard.core, runyard.core.compute, runyard._compute, "
        "runyard._services.compute, runyard._services.agent\n"
        "from runyard.core.compute import RayCompute\n"
        "assert 'ray' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ray'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
