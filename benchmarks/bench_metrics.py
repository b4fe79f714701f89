"""run.get_metrics() on one metric with 1,000,000 points, SQLite workspace (target: < 1 s).

Run: python benchmarks/bench_metrics.py. ``main()`` returns the figures for run.py.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_figures  # noqa: E402

from runyard._entities import MetricKind, MetricPoint  # noqa: E402

POINTS = 1_000_000
BATCH = 50_000
TARGET_S = 1.0


def _log_points(store, run_id: str, points: int) -> float:
    """Logs ``points`` floats in batches; returns the seconds it took."""
    rng = random.Random(0)
    started = time.perf_counter()
    for offset in range(0, points, BATCH):
        now = time.time()
        batch = [
            MetricPoint("loss", MetricKind.SCALAR, rng.random(), now, step=offset + i)
            for i in range(min(BATCH, points - offset))
        ]
        store.log_metrics(run_id, batch)
    return time.perf_counter() - started


def main(points: int = POINTS) -> dict:
    import os

    from runyard._services import close_all
    from runyard.core import Experiment, Workspace

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RUNYARD_HOME"] = tmp
        try:
            ws = Workspace.create("bench", show_output=False)
            run = Experiment(ws, "bench").start_logging(snapshot_directory=None)
            store = ws._services.store
            # Inserted in batches through the store (a million run.log calls of an
            # interactive run would measure logging, not reading).
            insert_s = _log_points(store, run.id, points)
            store_timings, sdk_timings = [], []
            for _ in range(3):
                started = time.perf_counter()
                series = store.get_metrics(run.id, ["loss"])["loss"]
                store_timings.append(time.perf_counter() - started)
                assert len(series.values) == points, len(series.values)
                started = time.perf_counter()
                values = run.get_metrics()["loss"]
                sdk_timings.append(time.perf_counter() - started)
                assert len(values) == points, len(values)
            run.complete()
        finally:
            close_all()
    best, best_sdk = min(store_timings), min(sdk_timings)
    return {
        "name": "get_metrics, 1M points of one metric (SQLite)",
        "points": points,
        "run.get_metrics() seconds (SDK, best of 3)": best_sdk,
        "store.get_metrics seconds (best of 3)": best,
        "target_seconds": TARGET_S,
        "ratio_to_target (SDK)": best_sdk / TARGET_S,
        "insert_points_per_s": points / insert_s,
        "ok": best_sdk < TARGET_S,
    }


if __name__ == "__main__":
    print_figures(main())
