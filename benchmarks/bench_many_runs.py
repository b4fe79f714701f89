"""100 runs submitted at once from one process all complete; the agent's memory stays flat.

Prints the agent's RSS (VmRSS from /proc/<pid>/status) after runs 10, 50 and 100 complete,
and the ratio last/first (flat is about 1).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_figures  # noqa: E402

from runyard._config import Settings, WorkspaceLayout  # noqa: E402
from runyard._entities import RunStatus  # noqa: E402
from runyard._services import close_all, open_services  # noqa: E402
from runyard._services.agent_client import agent_pid, stop_agent  # noqa: E402
from runyard._services.follow import wait_for_run  # noqa: E402
from runyard._services.jobs import submit_script_run  # noqa: E402

RUNS = 100
CHECKPOINTS = (10, 50, 100)
SCRIPT = (
    "from runyard.core.run import Run\n"
    "run = Run.get_context()\n"
    "for i in range(100):\n"
    "    run.log('loss', i * 0.1)\n"
    "print('done')\n"
)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "src"
        src.mkdir()
        (src / "train.py").write_text(SCRIPT)
        settings = Settings(home=tmp / "home")
        layout = WorkspaceLayout(settings.workspace_root("bench"))
        layout.root.mkdir(parents=True)
        services = open_services(layout, settings)
        try:
            start = time.perf_counter()
            runs = [
                submit_script_run(
                    services,
                    experiment_name="many",
                    source_directory=src,
                    script="train.py",
                    arguments=[],
                )  # fmt: skip
                for _ in range(RUNS)
            ]
            figures["submit 100 runs, s"] = time.perf_counter() - start
            pid = agent_pid(layout)
            rss = {}
            for n, info in enumerate(runs, 1):
                done = wait_for_run(services, info.run_id, show_output=False, out=io.StringIO())
                if done.status is not RunStatus.COMPLETED:
                    raise RuntimeError(f"run {info.run_id} ended {done.status}: {done.error}")
                if n in CHECKPOINTS:
                    rss[n] = rss_kb(pid)
            figures["all 100 complete, s"] = time.perf_counter() - start
            for n in CHECKPOINTS:
                figures[f"agent RSS after run {n}, MB"] = rss[n] / 1024
            figures["RSS ratio run 100 / run 10 (flat ~ 1)"] = rss[100] / rss[10]
            figures["same agent throughout"] = "yes" if agent_pid(layout) == pid else "NO"
        finally:
            stop_agent(layout)
            close_all()
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()
