"""Worker processes for the concurrency tests: python workers.py <job> <uri> ...

Started by the run_workers fixture through tests/barrier.py: every worker has done its
imports before any calls main(), so that all of them hit the store at the same moment.
Prints one JSON result line.
"""

from __future__ import annotations

import json
import sys
import time

from runyard._entities import MetricKind, MetricPoint, RunStatus
from runyard._store import open_store


def main() -> None:
    job, uri, *args = sys.argv[1:]
    # Opening is part of the race: a fresh database gets migrated by exactly one of us.
    store = open_store(uri)
    if job == "create_run":
        experiment, run_id = args
        run = store.create_run(
            run_id=run_id,
            experiment_name=experiment,
            status=RunStatus.QUEUED,
            run_type="azureml.scriptrun",
        )
        result: object = run.number
    elif job == "register":
        (name,) = args
        result = store.create_model_version(
            name=name, artifact_prefix=f"models/{time.time_ns()}", model_path="model.pkl"
        ).version
    elif job == "register_dataset":
        (name,) = args
        definition = {"type": "File", "paths": [{"url": f"file:///data/{time.time_ns()}"}]}
        result = store.register_dataset(
            name=name, definition=definition, create_new_version=True
        ).version
    elif job == "save_environment":
        name, content = args
        result = store.save_environment(name, json.dumps({"c": content}), content)
    elif job == "open":
        result = [e.name for e in store.list_experiments()]
    elif job == "log":
        run_id, count = args[0], int(args[1])
        for i in range(0, count, 10):
            points = [
                MetricPoint("loss", MetricKind.SCALAR, float(j), time.time(), step=j)
                for j in range(i, min(i + 10, count))
            ]
            store.log_metrics(run_id, points, spool_offset=i + len(points))
        result = count
    else:
        raise SystemExit(f"unknown job {job!r}")
    store.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
