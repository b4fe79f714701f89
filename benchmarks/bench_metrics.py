"""get_metrics on one metric with 1,000,000 points, on a SQLite store (target: < 1 s).

Run: python benchmarks/bench_metrics.py. ``main()`` returns the figures for run.py.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runyard._entities import MetricKind, MetricPoint, RunStatus  # noqa: E402
from runyard._store import open_store  # noqa: E402

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
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/runyard.db")
        try:
            store.create_run(
                run_id="bench_1",
                experiment_name="bench",
                status=RunStatus.RUNNING,
                run_type="interactive",
            )
            insert_s = _log_points(store, "bench_1", points)
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                series = store.get_metrics("bench_1", ["loss"])["loss"]
                timings.append(time.perf_counter() - started)
                assert len(series.values) == points, len(series.values)
        finally:
            store.close()
    best = min(timings)
    return {
        "name": "store.get_metrics, 1M points (SQLite)",
        "points": points,
        "seconds": best,
        "target_seconds": TARGET_S,
        "ratio_to_target": best / TARGET_S,
        "insert_points_per_s": points / insert_s,
        "ok": best < TARGET_S,
    }


def _print(figures: dict) -> None:
    print(f"{'points':>10}  {'get_metrics s':>13}  {'vs 1 s target':>13}  {'insert pts/s':>12}")
    print(
        f"{figures['points']:>10,}  {figures['seconds']:>13.3f}  "
        f"{figures['ratio_to_target']:>12.2f}x  {figures['insert_points_per_s']:>12,.0f}"
    )


if __name__ == "__main__":
    _print(main())
