"""Submit -> first line of the user's script, against starting `python script.py` directly.

Warm agent; median of several. Target: at most 0.5 s above the direct start.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from first_line import STAMP, first_line_time  # noqa: E402
from report import print_figures  # noqa: E402

from runyard._config import Settings, WorkspaceLayout  # noqa: E402
from runyard._services import close_all, open_services  # noqa: E402
from runyard._services.agent_client import stop_agent  # noqa: E402
from runyard._services.follow import wait_for_run  # noqa: E402
from runyard._services.jobs import submit_script_run  # noqa: E402

REPEATS = 7
SCRIPT = STAMP


def direct_latencies(src: Path) -> list[float]:
    out = []
    for _ in range(REPEATS):
        start = time.time()
        proc = subprocess.run([sys.executable, "train.py"], cwd=src, capture_output=True, text=True)
        out.append(first_line_time(proc.stdout) - start)
    return out


def submit_latencies(tmp: Path, src: Path) -> list[float]:
    settings = Settings(home=tmp / "home")
    layout = WorkspaceLayout(settings.workspace_root("bench"))
    layout.root.mkdir(parents=True)
    services = open_services(layout, settings)
    out = []
    try:
        for i in range(REPEATS + 1):  # the first one starts the agent: not counted
            start = time.time()
            info = submit_script_run(
                services, experiment_name="bench", source_directory=src, script="train.py",
                arguments=[],
            )  # fmt: skip
            wait_for_run(services, info.run_id, show_output=False, out=io.StringIO())
            key = f"runs/{info.run_id}/azureml-logs/70_driver_log.txt"
            if i:
                out.append(first_line_time(services.artifacts.read_bytes(key).decode()) - start)
    finally:
        stop_agent(layout)
        close_all()
    return out


def main() -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "src"
        src.mkdir()
        (src / "train.py").write_text(SCRIPT)
        direct = statistics.median(direct_latencies(src))
        submitted = statistics.median(submit_latencies(tmp, src))
    figures = {
        "python script.py -> first line, s (median)": direct,
        "submit -> first line, s (median, warm agent)": submitted,
        "difference, s (target <= 0.5)": submitted - direct,
        "meets <= 0.5 s": "yes" if submitted - direct <= 0.5 else "NO",
    }
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()
