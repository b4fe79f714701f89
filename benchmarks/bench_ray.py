"""Runyard on Ray (issue 12) against Ray Jobs, side by side on one local Ray cluster.

The cluster is the tests' one (tests/ray_cluster.py, docs/ray.md): a head with no CPUs, its
dashboard on (the Jobs API needs it), and two 1-CPU worker nodes, in a private network
namespace that has only ``lo``. Everything measured runs inside that namespace: this thread
enters it (``cluster.inside()``) before it makes a workspace, so the agent the first submit
starts, and every Jobs API connection, are in it too. Runyard is driven through the v1 API
as a user would: ``RUNYARD_RAY_ADDRESS`` names the cluster, an ``AmlCompute`` target
(STANDARD_D2_V2, max_nodes=2) therefore runs on Ray, ``Experiment.submit(ScriptRunConfig)``
and ``wait_for_completion``. Ray Jobs gets ``JobSubmissionClient(dashboard).submit_job(
entrypoint="<this venv's python> train.py", runtime_env={"working_dir": src},
entrypoint_num_cpus=1)``: the CPU puts the entrypoint on a worker (without it, it runs on the
head, unlimited), so both sides run at most 2 scripts at once, one per worker. The absolute
interpreter is the one the Ray nodes and Runyard's runs use (docs/ray.md, pitfall 9). The
agent and Ray Jobs are warmed with runs before anything is timed (the agent's start, the
first worker processes and the working_dir upload are not counted).

1. Queued runs: the trivial script (it prints one line and exits) submitted ``--runs`` times
   (default 200) at once, then waited for, all of them Completed / SUCCEEDED; timed from the
   first submit to the last end seen (Ray Jobs: ``list_jobs`` polled every 0.2 s). Overhead
   per run = wall x 2 / runs - the script's own time, where the own time is the same figure
   for both sides: ``python train.py`` run directly, spawn -> exit (median; the script is
   just the interpreter starting and one print).
2. Submit -> first line on a warm cluster (median of ``--repeats``, one run at a time): the
   script's first line prints ``time.time()``, read back from the run's driver log / the
   job's ``get_job_logs`` once it has ended, minus the time before ``submit()`` /
   ``submit_job()``. Same host, same clock.
3. ``run.log`` calls/s: a script times ``--log-calls`` (default 200,000) ``run.log("x", i)``
   calls itself and prints the rate; the best of 2 runs on Ray, and of 2 on a local
   AmlCompute cluster of a second workspace whose agent starts without
   ``RUNYARD_RAY_ADDRESS`` (the Ray cluster is up for both, so both share its idle load).

Targets: Runyard's overhead per run at or below Ray Jobs'; Ray run.log rate >= 80% of local.
Submit -> first line is printed side by side (issue 12 sets no number for it). Needs root,
iproute2 and ``ray[default]``. Usage: python benchmarks/bench_ray.py [--runs N] [--repeats N]
[--log-calls N].
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent / "tests"))  # last: tests/ray must not shadow the real Ray

from first_line import STAMP, first_line_time  # noqa: E402
from ray_cluster import RayCluster  # type: ignore[import-not-found]  # noqa: E402
from report import print_figures  # noqa: E402

RUNS = 200
REPEATS = 5
LOG_CALLS = 200_000
CONCURRENT = 2  # two 1-CPU Ray workers: max_nodes=2 for Runyard, entrypoint_num_cpus=1 for Jobs
DIRECT_REPEATS = 9
LOG_REPEATS = 2
VM_SIZE = "STANDARD_D2_V2"
# A queued Ray job fails after RAY_JOB_START_TIMEOUT_SECONDS (15 min by default) pending.
CLUSTER_ENV = {"RAY_JOB_START_TIMEOUT_SECONDS": "7200"}
TRIVIAL = STAMP  # one line, then exit
LOGGER = """import time
from runyard.core.run import Run
run = Run.get_context()
n = int({calls})
start = time.perf_counter()
for i in range(n):
    run.log("x", i)
print("RATE", n / (time.perf_counter() - start), flush=True)
"""
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def _rate(text: str) -> float:
    match = re.search(r"RATE ([0-9.e+]+)", text)
    if match is None:
        raise RuntimeError(f"no RATE line in:\n{text[-2000:]}")
    return float(match.group(1))


def direct_process_time(src: Path) -> float:
    """`python train.py` run directly, spawn -> exit, s (median)."""
    walls = []
    for _ in range(DIRECT_REPEATS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "train.py"], cwd=src, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


@contextmanager
def _environ(**values: str | None) -> Iterator[None]:
    """os.environ with values set (None: unset), restored after the block."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---- Runyard ----------------------------------------------------------------------------------
class Runyard:
    """A workspace with one AmlCompute target (on Ray when RUNYARD_RAY_ADDRESS is set)."""

    def __init__(self, name: str, target: str) -> None:
        from runyard.core import Experiment, Workspace
        from runyard.core.compute import AmlCompute, ComputeTarget

        self.ws = Workspace.create(name, show_output=False)
        config = AmlCompute.provisioning_configuration(vm_size=VM_SIZE, max_nodes=CONCURRENT)
        self.target = ComputeTarget.create(self.ws, target, config)
        self.target.wait_for_completion()
        self.exp = Experiment(self.ws, "bench-ray")

    def submit(self, src: Path) -> Any:
        from runyard.core import ScriptRunConfig

        return self.exp.submit(ScriptRunConfig(str(src), "train.py", compute_target=self.target))

    def driver_log(self, run: Any) -> str:
        key = f"runs/{run.id}/azureml-logs/70_driver_log.txt"
        return bytes(self.ws._services.artifacts.read_bytes(key)).decode(errors="replace")

    def finish(self, run: Any) -> str:
        """Waits for the run; its driver log (raises unless it Completed)."""
        details = run.wait_for_completion()
        if details["status"] != "Completed":
            raise RuntimeError(f"run {run.id} {details['status']}:\n{self.driver_log(run)[-3000:]}")
        return self.driver_log(run)

    def first_lines(self, src: Path, repeats: int) -> list[float]:
        out = []
        for _ in range(repeats):
            start = time.time()
            run = self.submit(src)
            out.append(first_line_time(self.finish(run)) - start)
        return out

    def queued(self, src: Path, runs: int) -> float:
        """Wall s from the first of `runs` submits to the last run's end."""
        start = time.perf_counter()
        submitted = [self.submit(src) for _ in range(runs)]
        for run in submitted:
            self.finish(run)
        return time.perf_counter() - start

    def log_rate(self, src: Path) -> float:
        """The rate the script printed, the best of LOG_REPEATS runs (one at a time)."""
        return max(_rate(self.finish(self.submit(src))) for _ in range(LOG_REPEATS))

    def stop(self) -> None:
        from runyard._services.agent_client import stop_agent

        stop_agent(self.ws._services.layout, timeout=60)


# ---- Ray Jobs ---------------------------------------------------------------------------------
class RayJobs:
    def __init__(self, dashboard_url: str) -> None:
        from ray.job_submission import JobSubmissionClient

        # not a line per submit_job saying the working_dir package is already uploaded
        logging.getLogger("ray.dashboard.modules.dashboard_sdk").setLevel(logging.WARNING)
        self.client = JobSubmissionClient(dashboard_url)

    def submit(self, src: Path) -> str:
        return str(
            self.client.submit_job(
                entrypoint=f"{sys.executable} train.py",
                runtime_env={"working_dir": str(src)},
                entrypoint_num_cpus=1,
            )
        )

    def wait(self, job_ids: list[str]) -> None:
        """Polls list_jobs (one request for all) until every job has ended; raises unless all
        SUCCEEDED."""
        left = set(job_ids)
        while True:
            statuses = {j.submission_id: str(j.status) for j in self.client.list_jobs()}
            done = {job for job in left if statuses.get(job, "").rpartition(".")[2] in TERMINAL}
            for job in done:
                if statuses[job].rpartition(".")[2] != "SUCCEEDED":
                    logs = self.client.get_job_logs(job)[-3000:]
                    raise RuntimeError(f"Ray job {job} {statuses[job]}:\n{logs}")
            left -= done
            if not left:
                return
            time.sleep(0.2)

    def first_lines(self, src: Path, repeats: int) -> list[float]:
        out = []
        for _ in range(repeats):
            start = time.time()
            job = self.submit(src)
            self.wait([job])
            out.append(first_line_time(self.client.get_job_logs(job)) - start)
        return out

    def queued(self, src: Path, runs: int) -> float:
        start = time.perf_counter()
        self.wait([self.submit(src) for _ in range(runs)])
        return time.perf_counter() - start


# ---- the bench --------------------------------------------------------------------------------
def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS, help="queued runs per side")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="submit -> first line")
    parser.add_argument("--log-calls", type=int, default=LOG_CALLS, help="run.log calls")
    return parser.parse_args(argv)


def _step(what: str) -> None:
    print(f"[bench_ray {time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def measure(tmp: Path, args: argparse.Namespace) -> dict[str, float]:
    trivial, logger = tmp / "trivial", tmp / "logger"
    for folder, text in ((trivial, TRIVIAL), (logger, LOGGER.format(calls=args.log_calls))):
        folder.mkdir()
        (folder / "train.py").write_text(text)
    got: dict[str, float] = {"own": direct_process_time(trivial)}
    _step("starting the Ray cluster (head --num-cpus=0, dashboard on; two 1-CPU workers)")
    cluster = RayCluster(env=CLUSTER_ENV)
    cluster.start(head_num_cpus=0, workers=[{"num_cpus": 1}, {"num_cpus": 1}])
    local: Runyard | None = None
    on_ray: Runyard | None = None
    try:
        with (
            cluster.inside(),
            _environ(RUNYARD_HOME=str(tmp / "home"), RUNYARD_AGENT_IDLE_SECONDS="1800"),
        ):
            with _environ(RUNYARD_RAY_ADDRESS=None):  # the agent of this one starts without it
                _step("run.log on a local AmlCompute cluster")
                local = Runyard("bench-local", "cpu-local")
                local.finish(local.submit(trivial))  # starts its agent: not counted
                got["log local"] = local.log_rate(logger)
                local.stop()
                local = None
            with _environ(RUNYARD_RAY_ADDRESS=str(cluster.address)):
                _step("Runyard on Ray: warming up")
                on_ray = Runyard("bench-ray", "ray-cpu")
                warm = [on_ray.submit(trivial) for _ in range(CONCURRENT)]  # both nodes
                for run in warm:
                    on_ray.finish(run)
                _step("Runyard on Ray: submit -> first line")
                got["first runyard"] = statistics.median(on_ray.first_lines(trivial, args.repeats))
                _step("Runyard on Ray: run.log")
                got["log ray"] = on_ray.log_rate(logger)
                _step(f"Runyard on Ray: {args.runs} queued runs")
                got["wall runyard"] = on_ray.queued(trivial, args.runs)
                on_ray.stop()
                on_ray = None
            jobs = RayJobs(cluster.dashboard_url)
            _step("Ray Jobs: warming up")
            jobs.wait([jobs.submit(trivial) for _ in range(CONCURRENT)])
            _step("Ray Jobs: submit -> first line")
            got["first jobs"] = statistics.median(jobs.first_lines(trivial, args.repeats))
            _step(f"Ray Jobs: {args.runs} queued jobs")
            got["wall jobs"] = jobs.queued(trivial, args.runs)
    finally:
        for side in (local, on_ray):
            if side is not None:
                side.stop()
        from runyard._services import close_all

        close_all()
        cluster.stop()
    return got


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = _parse([] if argv is None else argv)  # benchmarks/run.py calls main() bare
    with tempfile.TemporaryDirectory() as d:
        got = measure(Path(d), args)
    runs, own = args.runs, got["own"]
    ours = got["wall runyard"] * CONCURRENT / runs - own
    theirs = got["wall jobs"] * CONCURRENT / runs - own
    share = got["log ray"] / got["log local"]
    figures: dict[str, object] = {
        "python train.py run directly, spawn -> exit (s, median; the own time)": own,
        f"Runyard on Ray: {runs} queued runs, wall (s)": got["wall runyard"],
        "  runs/s": runs / got["wall runyard"],
        "  overhead per run (s)": ours,
        f"Ray Jobs: {runs} queued jobs, wall (s)": got["wall jobs"],
        "  jobs/s": runs / got["wall jobs"],
        "  overhead per job (s, baseline)": theirs,
        "overhead Runyard/Ray Jobs": ours / theirs if theirs > 0 else float("inf"),
        "meets Runyard overhead <= Ray Jobs'": "yes" if ours <= theirs else "NO",
        f"Runyard on Ray: submit -> first line (s, median of {args.repeats})": got["first runyard"],
        f"Ray Jobs: submit_job -> first line (s, median of {args.repeats})": got["first jobs"],
        "meets first line Runyard <= Ray Jobs (no issue target)": (
            "yes" if got["first runyard"] <= got["first jobs"] else "NO"
        ),
        "run.log calls/s on a local cluster": got["log local"],
        "run.log calls/s on Ray": got["log ray"],
        "Ray / local (target >= 0.8)": share,
        "meets Ray run.log >= 80% of local": "yes" if share >= 0.8 else "NO",
    }
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
