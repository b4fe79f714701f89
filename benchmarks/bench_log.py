"""run.log calls/s inside a submitted run, against MLflow's log_metric on SQLite.

Both rates are measured in this run. MLflow is installed into its own venv under
~/.cache/runyard-bench/mlflow-venv (reused when present). Targets: >= 100,000 calls/s and
>= 50x MLflow.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_figures  # noqa: E402

from runyard._config import Settings, WorkspaceLayout  # noqa: E402
from runyard._services import close_all, open_services  # noqa: E402
from runyard._services.agent_client import stop_agent  # noqa: E402
from runyard._services.follow import wait_for_run  # noqa: E402
from runyard._services.jobs import submit_script_run  # noqa: E402

N_RUNYARD = 500_000
N_MLFLOW = 2_000
MLFLOW_VENV = Path.home() / ".cache" / "runyard-bench" / "mlflow-venv"

RUNYARD_SCRIPT = f"""
import time
from runyard.core.run import Run
run = Run.get_context()
start = time.perf_counter()
for i in range({N_RUNYARD}):
    run.log('loss', i * 0.001)
print('RATE', {N_RUNYARD} / (time.perf_counter() - start))
"""

MLFLOW_SCRIPT = f"""
import sys, time, mlflow
mlflow.set_tracking_uri('sqlite:///' + sys.argv[1])
with mlflow.start_run():
    mlflow.log_metric('warmup', 0.0)
    start = time.perf_counter()
    for i in range({N_MLFLOW}):
        mlflow.log_metric('loss', i * 0.001, step=i)
    print('RATE', {N_MLFLOW} / (time.perf_counter() - start))
"""


def _rate(text: str) -> float:
    match = re.search(r"RATE ([0-9.e+]+)", text)
    if match is None:
        raise RuntimeError(f"no RATE line in:\n{text[-2000:]}")
    return float(match.group(1))


def runyard_rate(tmp: Path) -> float:
    settings = Settings(home=tmp / "home")
    layout = WorkspaceLayout(settings.workspace_root("bench"))
    layout.root.mkdir(parents=True)
    src = tmp / "src"
    src.mkdir()
    (src / "train.py").write_text(RUNYARD_SCRIPT)
    services = open_services(layout, settings)
    try:
        info = submit_script_run(
            services, experiment_name="bench", source_directory=src, script="train.py",
            arguments=[],
        )  # fmt: skip
        done = wait_for_run(services, info.run_id, show_output=False, out=io.StringIO())
        log = services.artifacts.read_bytes(f"runs/{info.run_id}/azureml-logs/70_driver_log.txt")
        if done.status.value != "Completed":
            raise RuntimeError(f"bench run {done.status}: {done.error}")
        points = len(services.store.get_metrics(info.run_id)["loss"].values)
        assert points == N_RUNYARD, points
        return _rate(log.decode())
    finally:
        stop_agent(layout)
        close_all()


def mlflow_python() -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        venv.create(MLFLOW_VENV, with_pip=True)
    probe = subprocess.run([python, "-c", "import mlflow"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "mlflow"], check=True)
    return python


def mlflow_rate(tmp: Path) -> float:
    script = tmp / "mlflow_bench.py"
    script.write_text(MLFLOW_SCRIPT)
    proc = subprocess.run(
        [mlflow_python(), script, str(tmp / "mlflow.db")],
        capture_output=True, text=True, cwd=tmp, check=False,
    )  # fmt: skip
    return _rate(proc.stdout + proc.stderr)


def main() -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours = runyard_rate(tmp)
        theirs = mlflow_rate(tmp)
    figures = {
        "runyard run.log calls/s": ours,
        "mlflow log_metric calls/s (sqlite)": theirs,
        "ratio runyard/mlflow (target >= 50)": ours / theirs,
        "meets >= 100,000/s and >= 50x": "yes" if ours >= 100_000 and ours >= 50 * theirs else "NO",
    }
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()
