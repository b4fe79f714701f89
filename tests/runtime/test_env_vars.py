"""Environment variables reach the job: the Environment's, then the run config's on top."""

from __future__ import annotations

import pytest

from runyard.core import Experiment, ScriptRunConfig
from runyard.core.environment import Environment
from runyard.exceptions import UserErrorException

SCRIPT = (
    "import os\n"
    "print('FOO=' + os.environ.get('FOO', '<unset>'))\n"
    "print('BAR=' + os.environ.get('BAR', '<unset>'))\n"
)


def test_environment_and_run_config_variables_reach_the_job(
    ws, services, source, driver_log
) -> None:
    env = Environment("vars")
    env.python.user_managed_dependencies = True  # the agent's Python: nothing to build
    env.environment_variables = {"FOO": "from-env", "BAR": "from-env"}
    config = ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py", environment=env)
    config.run_config.environment_variables = {"BAR": "from-run-config"}
    run = Experiment(ws, "vars").submit(config)
    assert run.wait_for_completion()["status"] == "Completed"
    log = driver_log(services, run.id)
    assert "FOO=from-env" in log and "BAR=from-run-config" in log


@pytest.mark.parametrize(
    ("variables", "expected"),
    [({"A=B": "1"}, "'A=B' is not valid"), ({"": "1"}, "'' is not valid"),
     ({"X": [1, 2]}, "X=[1, 2] must be a str or a number")],
)  # fmt: skip
def test_bad_environment_variables_are_refused_and_nothing_stored(
    ws, services, source, variables, expected
) -> None:
    config = ScriptRunConfig(source(**{"train.py": SCRIPT}), "train.py")
    config.run_config.environment_variables = variables
    with pytest.raises(UserErrorException, match="nvironment variable") as err:
        Experiment(ws, "vars").submit(config)
    assert expected in str(err.value)
    assert services.store.list_runs(experiment_name="vars") == []
