"""8 processes log to 8 interactive runs and register one model name at the same time."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from runyard.core import Experiment, Model

WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from runyard.core import Experiment, Model, Workspace

    index, go_file, model_file = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    ws = Workspace.get("test-ws")
    run = Experiment(ws, "concurrent").start_logging(snapshot_directory=None)
    run.tag("worker", str(index))
    while not go_file.exists():  # start together, so the writes really overlap
        time.sleep(0.005)
    for step in range(1000):
        run.log("value", index * 10000 + step)
    Model.register(ws, model_file, "shared-model", tags={"worker": str(index)})
    run.complete()
    """
)


def test_eight_processes_lose_nothing_and_versions_have_no_gap(ws, tmp_path):
    model_file = tmp_path / "model.bin"
    model_file.write_bytes(b"m")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), str(go), str(model_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    # Every worker has created its run before the gun fires.
    import time

    exp = Experiment(ws, "concurrent")
    deadline = time.time() + 60
    while len(list(exp.get_runs())) < 8 and time.time() < deadline:
        time.sleep(0.05)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    runs = list(exp.get_runs())
    assert len(runs) == 8
    for run in runs:
        index = int(run.get_tags()["worker"])
        assert run.get_metrics()["value"] == [index * 10000 + s for s in range(1000)]
        assert run.get_status() == "Completed"
    versions = sorted(m.version for m in Model.list(ws, name="shared-model"))
    assert versions == list(range(1, 9))
    assert sorted(m.tags["worker"] for m in Model.list(ws)) == [str(i) for i in range(8)]
    assert sorted(r.number for r in runs) == list(range(1, 9))
