"""A 100-trial sweep's overhead per trial, against Optuna launching the same script itself.

Both run a trivial script (it logs the primary metric 3 times and exits) 100 times, two at
a time:

- Runyard: a HyperDrive sweep through the public API (RandomParameterSampling,
  HyperDriveConfig(max_concurrent_runs=2), ``experiment.submit``, ``wait_for_completion``),
  timed from submit to the end of ``wait_for_completion``, with the agent already started
  by one run before (as bench_submit: the agent's start is not counted);
- Optuna: ``study.optimize(n_jobs=2)`` whose objective runs the script as a subprocess of
  the environment's Python (the agent's: the children have no Environment) and reads its
  metric from stdout.

The script's own run time is what the script measures itself, from its first line (before
its imports) to its last: starting and ending the interpreter is launch overhead, which
Optuna's objective pays too (measured as the whole process, the script's time would leave
Optuna almost no overhead to compare with). It is taken inside Optuna's trials (their
mean), where nothing but a plain subprocess launch surrounds the script, under the same
load of two scripts at once (run directly one at a time, it drifts and varies more: shown
for reference). Overhead per trial = wall time x 2 / trials - that own time, the same for
both sides, so a script that runs slower inside Runyard's children (the agent's CPU on
the same cores) counts as Runyard's overhead; the children's own time is shown too.
Target: Runyard's at most 1.5x Optuna's.

Where Runyard's time per trial goes comes from the children's store times and the time
stamps the script prints (medians): a child's end -> the next child Running (the sweep
pass, scheduling and starting it), Running -> the script's first line (the job wrapper and
the interpreter starting), the script's last line -> the child's end (the interpreter and
wrapper exiting, the supervisor noticing and finalizing).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_figures  # noqa: E402

TRIALS = 100
CONCURRENT = 2
DIRECT_REPEATS = 9
SCRIPT = """import time
T0 = time.time()
import argparse
from runyard.core.run import Run
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
a, _ = p.parse_known_args()
run = Run.get_context()
for i in range(3):
    run.log("score", a.x * (i + 1))
print("SCORE", a.x * 3)
print("STAMPS", T0, time.time(), flush=True)
"""


def _stamps(text: str) -> tuple[float, float]:
    """(first line, last line) epoch seconds the script printed."""
    match = re.search(r"STAMPS ([0-9.]+) ([0-9.]+)", text)
    if match is None:
        raise RuntimeError(f"no STAMPS line in:\n{text[-2000:]}")
    return float(match.group(1)), float(match.group(2))


def direct_times(src: Path) -> tuple[float, float]:
    """(the script's own time, the process's wall time), medians of the script run
    directly, one at a time (outside any run: an offline Run)."""
    own, wall = [], []
    for _ in range(DIRECT_REPEATS):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "train.py", "--x", "0.5"], cwd=src, check=True,
                              capture_output=True, text=True)  # fmt: skip
        wall.append(time.perf_counter() - start)
        first, last = _stamps(proc.stdout)
        own.append(last - first)
    return statistics.median(own), statistics.median(wall)


def runyard_sweep(tmp: Path, src: Path) -> tuple[float, dict[str, float]]:
    """(sweep wall s, the children's mean own time and where their time went, in s)."""
    from runyard._services import close_all
    from runyard._services.agent_client import stop_agent
    from runyard.core import Experiment, ScriptRunConfig, Workspace
    from runyard.train.hyperdrive import (
        HyperDriveConfig,
        PrimaryMetricGoal,
        RandomParameterSampling,
        uniform,
    )

    saved = os.environ.get("RUNYARD_HOME")
    os.environ["RUNYARD_HOME"] = str(tmp / "home")
    ws = None
    try:
        ws = Workspace.create("bench", show_output=False)
        exp = Experiment(ws, "bench-sweep")
        warm = exp.submit(ScriptRunConfig(str(src), "train.py", arguments=["--x", "0.5"]))
        warm.wait_for_completion()  # starts the agent: not counted
        config = HyperDriveConfig(
            run_config=ScriptRunConfig(str(src), "train.py"),
            hyperparameter_sampling=RandomParameterSampling({"--x": uniform(0, 1)}),
            primary_metric_name="score",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
            max_total_runs=TRIALS,
            max_concurrent_runs=CONCURRENT,
        )
        start = time.perf_counter()
        hd_run = exp.submit(config)
        hd_run.wait_for_completion()
        wall = time.perf_counter() - start
        return wall, _breakdown(ws._services, hd_run)
    finally:
        if ws is not None:
            stop_agent(ws._services.layout)
            close_all()
        if saved is None:
            os.environ.pop("RUNYARD_HOME", None)
        else:
            os.environ["RUNYARD_HOME"] = saved


def _breakdown(services: Any, hd_run: Any) -> dict[str, float]:
    kids = list(hd_run.get_children())
    if hd_run.get_status() != "Completed" or len(kids) != TRIALS:
        raise RuntimeError(f"sweep {hd_run.get_status()} with {len(kids)} children")
    starts, ends, own, job_start, job_end = [], [], [], [], []
    for kid in kids:
        info = kid._refresh()
        if info.status.value != "Completed" or not info.start_time or not info.end_time:
            raise RuntimeError(f"child {kid.id} {info.status.value}: {info.error}")
        log = services.artifacts.read_bytes(f"runs/{kid.id}/azureml-logs/70_driver_log.txt")
        first, last = _stamps(log.decode())
        starts.append(info.start_time.timestamp())
        ends.append(info.end_time.timestamp())
        own.append(last - first)
        job_start.append(first - starts[-1])
        job_end.append(ends[-1] - last)
    # The k-th child to start after the first CONCURRENT took the slot of the k-th to end.
    starts.sort()
    ends.sort()
    gaps = [s - e for s, e in zip(starts[CONCURRENT:], ends[:-CONCURRENT], strict=True)]
    return {
        "own": statistics.mean(own),
        "between": statistics.median(gaps),
        "job start": statistics.median(job_start),
        "job end": statistics.median(job_end),
    }


def optuna_study(src: Path) -> tuple[float, float]:
    """(study.optimize wall s, the trials' mean own time s)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    own: list[float] = []  # list.append is atomic: safe from the n_jobs threads

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        proc = subprocess.run([sys.executable, "train.py", "--x", str(x)], cwd=src,
                              check=True, capture_output=True, text=True)  # fmt: skip
        match = re.search(r"SCORE ([0-9.e+-]+)", proc.stdout)
        if match is None:
            raise RuntimeError(f"no SCORE line in:\n{proc.stdout[-2000:]}")
        first, last = _stamps(proc.stdout)
        own.append(last - first)
        return float(match.group(1))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS, n_jobs=CONCURRENT)
    wall = time.perf_counter() - start
    if len(own) != TRIALS:
        raise RuntimeError(f"Optuna ran {len(own)} of {TRIALS} trials")
    return wall, statistics.mean(own)


def main() -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "src"
        src.mkdir()
        (src / "train.py").write_text(SCRIPT)
        direct_own, direct_process = direct_times(src)
        wall, parts = runyard_sweep(tmp, src)
        optuna_wall, optuna_own = optuna_study(src)
    own = optuna_own
    ours = wall * CONCURRENT / TRIALS - own
    theirs = optuna_wall * CONCURRENT / TRIALS - own
    figures = {
        "script's own run time, first -> last line, in Optuna's trials (s, mean)": own,
        "  the same, run directly one at a time (s, median)": direct_own,
        "  python train.py run directly, spawn -> exit (s, median)": direct_process,
        "Runyard overhead per trial (s)": ours,
        "  script's own time inside the children (s, mean)": parts["own"],
        "  child end -> next child Running (s, median)": parts["between"],
        "  Running -> script's first line (s, median)": parts["job start"],
        "  script's last line -> child end (s, median)": parts["job end"],
        "Optuna subprocess overhead per trial (s, baseline)": theirs,
        "ratio Runyard/Optuna (target <= 1.5)": ours / theirs if theirs > 0 else float("inf"),
        "meets <= 1.5x": "yes" if theirs > 0 and ours / theirs <= 1.5 else "NO",
    }
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()
