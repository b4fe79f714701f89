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
