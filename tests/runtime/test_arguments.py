"""ScriptRunConfig arguments: numpy scalars and legacy DataReferences, as estimators take them."""

from __future__ import annotations

import numpy as np

from runyard.core import Experiment, ScriptRunConfig

SCRIPT = (
    "import os, sys\n"
    "print('ARGV', sys.argv[1:])\n"
    "print('LISTING', sorted(os.listdir(sys.argv[-1])))\n"
)


def test_numpy_scalars_and_a_data_reference_become_argv_values(
    ws, services, source, tmp_path, driver_log
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    datastore = ws.get_default_datastore()
    datastore.upload(str(data), target_path="refdata", show_progress=False)
    args = ["--n", np.int64(5), "--lr", np.float32(0.5), "--data",
            datastore.path("refdata").as_mount()]  # fmt: skip
    config = ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py", arguments=args)
    run = Experiment(ws, "args").submit(config)
    assert run.wait_for_completion()["status"] == "Completed"
    log = driver_log(services, run.id)
    assert "ARGV ['--n', '5', '--lr', '0.5', '--data', '/" in log
    assert "LISTING ['a.txt']" in log


def test_run_context_as_context_manager_in_a_job_fails_by_exit_code_without_advice(
    ws, services, source, driver_log
):
    script = (
        "from runyard.core.run import Run\n"
        "with Run.get_context() as run:\n"
        "    run.log('x', 1)\n"
        "    raise RuntimeError('boom in body')\n"
    )
    run = Experiment(ws, "ctx").submit(ScriptRunConfig(source(**{"train.py": script}), "train.py"))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    log = driver_log(services, run.id)
    assert "RuntimeError: boom in body" in log
    assert "does not change its status" not in log
    assert run.get_metrics() == {"x": 1}
