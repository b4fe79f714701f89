"""How long a run that logged 1,000,000 points takes to end once its script has ended.

A real submitted run logs N points in a tight ``run.log`` loop and prints the loop's
write rate (the baseline, measured in this run on one core) and the time its script
ended. The run's end time in the store minus that is "script end -> Completed"
(target <= 3 s). Ingest points/s is measured on its own: the same N points written to a
spool with the job's SpoolWriter, then ingested into a fresh SQLite store by the
supervisor's SpoolIngester (target >= the write rate).
"""

from __future__ import annotations

import io
import re
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
from runyard._services.agent_client import stop_agent  # noqa: E402
from runyard._services.follow import wait_for_run  # noqa: E402
from runyard._services.job_results import SpoolIngester  # noqa: E402
from runyard._services.jobs import submit_script_run  # noqa: E402
from runyard._spool import SpoolWriter  # noqa: E402

N = 1_000_000

SCRIPT = f"""
import time
from runyard.core.run import Run
run = Run.get_context()
start = time.perf_counter()
for i in range({N}):
    run.log('loss', i * 0.001)
print('RATE', {N} / (time.perf_counter() - start))
print('SCRIPT-END', time.time(), flush=True)
"""


def _figure(name: str, text: str) -> float:
    match = re.search(rf"{name} ([0-9.e+]+)", text)
    if match is None:
        raise RuntimeError(f"no {name} line in:\n{text[-2000:]}")
    return float(match.group(1))


def _services(tmp: Path, name: str):
    settings = Settings(home=tmp / name)
    layout = WorkspaceLayout(settings.workspace_root("bench"))
    layout.root.mkdir(parents=True)
    return layout, open_services(layout, settings)


def submitted_run(tmp: Path) -> tuple[float, float]:
    """(script end -> run Completed seconds, the script's run.log calls/s)."""
    src = tmp / "src"
    src.mkdir()
    (src / "train.py").write_text(SCRIPT)
    layout, services = _services(tmp, "home")
    try:
        info = submit_script_run(
            services, experiment_name="bench", source_directory=src, script="train.py",
            arguments=[],
        )  # fmt: skip
        done = wait_for_run(services, info.run_id, show_output=False, out=io.StringIO())
        if done.status is not RunStatus.COMPLETED or done.end_time is None:
            raise RuntimeError(f"bench run {done.status}: {done.error}")
        log = services.artifacts.read_bytes(f"runs/{info.run_id}/azureml-logs/70_driver_log.txt")
        points = len(services.store.get_metrics(info.run_id)["loss"].values)
        assert points == N, points
        text = log.decode()
        return done.end_time.timestamp() - _figure("SCRIPT-END", text), _figure("RATE", text)
    finally:
        stop_agent(layout)
        close_all()


def ingest_rate(tmp: Path) -> float:
    """Points/s of SpoolIngester.ingest() over a spool of N points, into SQLite."""
    _, services = _services(tmp, "ingest")
    try:
        run = services.store.create_run(
            run_id="bench-ingest", experiment_name="bench", status=RunStatus.RUNNING,
            run_type="azureml.scriptrun",
        )  # fmt: skip
        spool = tmp / "spool.bin"
        writer = SpoolWriter(spool)
        for i in range(N):
            writer.scalar("loss", i * 0.001)
        writer.close()
        start = time.perf_counter()
        SpoolIngester(services, run.run_id, spool).ingest()
        elapsed = time.perf_counter() - start
        assert len(services.store.get_metrics(run.run_id)["loss"].values) == N
        return N / elapsed
    finally:
        close_all()


def main() -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        finalize, write_rate = submitted_run(tmp)
        ingest = ingest_rate(tmp)
    figures = {
        f"script end -> Completed, {N:,} points (s, target <= 3)": finalize,
        "ingest points/s": ingest,
        "tight run.log loop points/s (baseline, one core)": write_rate,
        "ratio ingest/write (target >= 1)": ingest / write_rate,
        "meets <= 3 s and >= 1x": "yes" if finalize <= 3 and ingest >= write_rate else "NO",
    }
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()
