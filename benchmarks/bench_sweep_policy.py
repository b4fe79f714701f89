"""How soon a sweep's early-termination policy acts once a child logged the deciding value.

A HyperDrive sweep (public API, real agent) of 6 children (3 good, 3 poor), 3 at a time,
under a Bandit policy (evaluation_interval=1, slack_factor=0.1, delay_evaluation=2): good
children log 1.0 every 0.2 s, poor ones 0.5 every 0.2 s and print the wall time of each
run.log. The
latency of a stop is the time-stamp of its decision in azureml-logs/hyperdrive.txt minus
the time the poor child logged the value of the interval the decision names.
Target: every stop within 2 s of its metric being logged.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_figures  # noqa: E402

SCRIPT = """
import argparse, time
from runyard.core.run import Run
p = argparse.ArgumentParser()
p.add_argument("--quality", type=float)
p.add_argument("--copy", type=int)
a = p.parse_args()
run = Run.get_context()
for i in range(1, 301):
    run.log("acc", a.quality)
    print("LOGGED", i, time.time(), flush=True)
    time.sleep(0.2)
    if a.quality >= 1.0 and i >= 15:
        break
"""
TARGET_SECONDS = 2.0


def main() -> dict[str, object]:
    home = tempfile.mkdtemp(prefix="runyard-bench-policy-")
    os.environ["RUNYARD_HOME"] = home
    from runyard._services.agent_client import stop_agent
    from runyard.core import Experiment, ScriptRunConfig, Workspace
    from runyard.train.hyperdrive import (
        BanditPolicy,
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    ws = Workspace.create("bench-policy", show_output=False)
    src_dir = Path(home) / "src"
    src_dir.mkdir()
    (src_dir / "train.py").write_text(SCRIPT)
    try:
        config = HyperDriveConfig(
            run_config=ScriptRunConfig(source_directory=str(src_dir), script="train.py"),
            hyperparameter_sampling=GridParameterSampling(
                {"--quality": choice(1.0, 0.5), "--copy": choice(1, 2, 3)}
            ),
            primary_metric_name="acc",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
            policy=BanditPolicy(evaluation_interval=1, slack_factor=0.1, delay_evaluation=2),
            max_total_runs=6,
            max_concurrent_runs=3,
        )
        hd_run = Experiment(ws, "bench-policy").submit(config)
        hd_run.wait_for_completion()
        sweep_log = hd_run.get_details_with_logs()["logFiles"]["azureml-logs/hyperdrive.txt"]
        latencies = []
        for stamp, child, interval in re.findall(
            r"^\[(\S+)\] (HD_\S+): Canceled by BanditPolicy at interval (\d+)", sweep_log, re.M
        ):
            decided = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            log = ws._services.artifacts.read_bytes(
                f"runs/{child}/azureml-logs/70_driver_log.txt"
            ).decode()
            logged = dict(re.findall(r"^LOGGED (\d+) (\S+)$", log, re.M))
            latencies.append(decided - float(logged[interval]))
    finally:
        stop_agent(ws._services.layout, timeout=30)
    if not latencies:
        raise RuntimeError(f"No child was stopped by the policy; the sweep log:\n{sweep_log}")
    return {
        "children stopped": len(latencies),
        "stop latency median (s)": statistics.median(latencies),
        "stop latency max (s)": max(latencies),
        "target (s)": TARGET_SECONDS,
        "max / target": max(latencies) / TARGET_SECONDS,
    }


if __name__ == "__main__":
    print_figures(main())
