"""ScriptRunConfig through Experiment.submit with the real agent and job processes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runyard.core import Experiment, Model, ScriptRunConfig
from runyard.exceptions import ActivityFailedException, UserErrorException

TRAIN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from runyard.core import Run
    run = Run.get_context()
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    run.log("arg", sys.argv[1])
    Path("outputs").mkdir(exist_ok=True)
    Path("outputs/model.txt").write_text("trained")
    print("training done")
    """
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    (src / "fail.py").write_text("print('about to fail')\nraise RuntimeError('bad batch 7')\n")
    return src


@pytest.fixture
def stop_agent(ws):
    yield
    from runyard._services import agent_client as agent

    agent.stop_agent(ws._layout)


@pytest.mark.timeout(120)
def test_submit_runs_script_and_registers_its_output(ws, source, stop_agent, capsys):
    exp = Experiment(ws, "submitted")
    config = ScriptRunConfig(str(source), script="train.py", arguments=[3])
    run = exp.submit(config, tags={"who": "test"})
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"
    assert "training done" in capsys.readouterr().out
    assert run.get_metrics() == {"loss": [1.0, 0.5, 1 / 3, 0.25, 0.2], "arg": "3"}
    assert run.get_tags()["who"] == "test"
    assert run.type == "azureml.scriptrun" and details["runDefinition"]["script"] == "train.py"
    model = run.register_model("submitted-model", model_path="outputs/model.txt")
    assert Path(model.download()).read_text() == "trained"
    assert [r.id for r in exp.get_runs()] == [run.id]
    assert Model.get_model_path("submitted-model", _workspace=ws).endswith("model.txt")


@pytest.mark.timeout(120)
def test_failed_script_raises_with_its_last_error_lines(ws, source, stop_agent):
    run = Experiment(ws, "failing").submit(ScriptRunConfig(str(source), script="fail.py"))
    with pytest.raises(ActivityFailedException) as err:
        run.wait_for_completion()
    assert "bad batch 7" in str(err.value)
    assert err.value.error_details["status"] == "Failed"
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"


def test_missing_script_is_refused_before_anything_is_stored(ws, source):
    exp = Experiment(ws, "missing")
    with pytest.raises(UserErrorException) as err:
        exp.submit(ScriptRunConfig(str(source), script="nope.py"))
    assert "'nope.py'" in str(err.value)
    with pytest.raises(UserErrorException, match="does not exist or is not a folder"):
        exp.submit(ScriptRunConfig(str(source / "gone"), script="train.py"))
    with pytest.raises(UserErrorException, match="unexpected arguments"):
        exp.submit(ScriptRunConfig(str(source), script="train.py"), colour="red")
    assert list(exp.get_runs()) == []


def test_script_run_config_fields():
    class Target:
        name = "cpu-cluster"

    config = ScriptRunConfig(".", script="t.py", arguments=["--lr", 0.1], compute_target=Target())
    assert config.compute_target == "cpu-cluster" and config.arguments == ["--lr", 0.1]
    assert ScriptRunConfig(".", "t.py").compute_target == "local"
    assert ScriptRunConfig(".", "t.py").max_run_duration_seconds == 2592000
