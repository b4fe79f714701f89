"""The same runtime through the public SDK: Experiment.submit and Run.wait_for_completion."""

from __future__ import annotations

import pytest

from runyard.core import Experiment, ScriptRunConfig
from runyard.exceptions import ActivityFailedException

pytestmark = pytest.mark.timeout(120)

TRAIN = """
import os, sys
from runyard.core.run import Run
run = Run.get_context()
for epoch in range(3):
    run.log('loss', 1.0 / (epoch + 1))
run.log('lr', float(sys.argv[2]))
os.makedirs('outputs', exist_ok=True)
open('outputs/model.txt', 'w').write('weights')
print('trained with', sys.argv[1:])
"""


def test_submit_and_wait_for_completion(ws, services, source, capsys) -> None:
    config = ScriptRunConfig(
        source_directory=str(source(**{"train.py": TRAIN})),
        script="train.py",
        arguments=["--lr", 0.01],
    )
    run = Experiment(ws, "sdk-exp").submit(config, tags={"team": "a"})
    details = run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert details["status"] == "Completed"
    assert f"RunId: {run.id}" in out and "trained with ['--lr', '0.01']" in out
    assert run.get_metrics() == {"loss": [1.0, 0.5, 1.0 / 3], "lr": 0.01}
    assert "outputs/model.txt" in run.get_file_names()
    assert "azureml-logs/70_driver_log.txt" in run.get_file_names()
    assert run.get_tags()["team"] == "a"


def test_failed_run_raises_with_the_last_error_lines(ws, services, source) -> None:
    config = ScriptRunConfig(
        source_directory=str(source(**{"train.py": "import nonexistent_module_xyz\n"})),
        script="train.py",
    )
    run = Experiment(ws, "sdk-exp").submit(config)
    with pytest.raises(ActivityFailedException) as err:
        run.wait_for_completion()
    assert "ModuleNotFoundError: No module named 'nonexistent_module_xyz'" in str(err.value)
    assert run.get_status() == "Failed"
    details = run.wait_for_completion(raise_on_error=False)
    assert details["error"]["error"]["code"] == "UserError"
    assert details["error"]["error"]["exit_code"] == 1


def test_max_run_duration_cancels_the_run_with_the_reason(ws, services, source) -> None:
    script = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
    config = ScriptRunConfig(
        source_directory=str(source(**{"train.py": script})),
        script="train.py",
        max_run_duration_seconds=1,
    )
    run = Experiment(ws, "timeouts").submit(config)
    details = run.wait_for_completion()  # Canceled is not Failed: no raise (v1)
    assert details["status"] == "Canceled"
    assert details["error"]["error"]["code"] == "MaxRunDurationExceeded"
    assert "max_run_duration_seconds=1" in details["error"]["error"]["message"]
    log = services.artifacts.read_bytes(f"runs/{run.id}/azureml-logs/70_driver_log.txt")
    assert b"started" in log and b"exceeded max_run_duration_seconds=1" in log


@pytest.mark.parametrize("value", [0, -5, "3600", True])
def test_bad_max_run_duration_is_refused_before_anything_is_stored(
    ws, services, source, value
) -> None:
    from runyard.exceptions import UserErrorException

    config = ScriptRunConfig(
        source_directory=str(source(**{"train.py": "print(1)\n"})),
        script="train.py",
        max_run_duration_seconds=value,
    )
    with pytest.raises(UserErrorException, match=r"max_run_duration_seconds=.* positive"):
        Experiment(ws, "timeouts").submit(config)
    assert services.store.list_runs(include_children=True) == []
