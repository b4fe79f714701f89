"""max_retries (Runyard's RunConfiguration setting for runs whose node is lost) is checked
at submit: a bad value is refused with the rule, and nothing is stored."""

from __future__ import annotations

import pytest

from runyard.core import Experiment, ScriptRunConfig
from runyard.exceptions import UserErrorException


@pytest.mark.parametrize("bad", [-1, 6, 1.5, True, "2"])
def test_a_bad_max_retries_is_refused_at_submit(ws, services, source, bad) -> None:
    config = ScriptRunConfig(source(**{"train.py": "print('hi')\n"}), "train.py")
    config.run_config.max_retries = bad
    exp = Experiment(ws, "retries")
    with pytest.raises(UserErrorException, match=r"max_retries=.* is invalid: pass a whole"):
        exp.submit(config)
    assert list(exp.get_runs()) == []


def test_max_retries_is_recorded_in_the_run_definition(ws, services, source) -> None:
    config = ScriptRunConfig(source(**{"train.py": "print('hi')\n"}), "train.py")
    config.run_config.max_retries = 3
    run = Experiment(ws, "retries").submit(config)
    assert run.get_details()["runDefinition"]["maxRetries"] == 3
    assert run.wait_for_completion()["status"] == "Completed"
