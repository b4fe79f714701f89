"""The runyard CLI, through typer's CliRunner and the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import runyard
from runyard.cli import app
from runyard.core import Experiment, Model

cli = CliRunner()


def _ok(*args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def filled(ws, tmp_path):
    run = Experiment(ws, "cli-exp").start_logging(snapshot_directory=None)
    run.log("acc", 0.9)
    run.upload_file("outputs/model.pkl", _file(tmp_path / "model.pkl", b"m"))
    run.upload_file("azureml-logs/70_driver_log.txt", _file(tmp_path / "log.txt", b"hello log\n"))
    run.register_model("cli-model", "outputs/model.pkl", tags={"k": "v"})
    run.complete()
    return run


def _file(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_version():
    assert _ok("--version").strip() == f"runyard {runyard.__version__}"


def test_workspace_create_and_list_json(runyard_home):
    assert "Created workspace 'cli-ws'" in _ok("workspace", "create", "cli-ws")
    rows = json.loads(_ok("workspace", "list", "--json"))
    assert [r["name"] for r in rows] == ["cli-ws"]
    assert "cli-ws" in _ok("workspace", "list")


def test_workspace_create_bad_name_is_red_error_exit_1(runyard_home):
    result = cli.invoke(app, ["workspace", "create", "x"])
    assert result.exit_code == 1
    assert "Workspace name 'x' is not valid" in result.output
    assert "Traceback" not in result.output
    assert not (runyard_home / "workspaces").exists()


def test_runs_list_show_logs_download(filled, tmp_path):
    rows = json.loads(_ok("runs", "list", "-w", "test-ws", "--json"))
    assert [(r["run_id"], r["status"]) for r in rows] == [(filled.id, "Completed")]
    unknown = cli.invoke(app, ["runs", "list", "-w", "test-ws", "-e", "other", "--json"])
    assert unknown.exit_code == 1 and "No experiment named 'other'" in unknown.output
    assert filled.id[:10] in _ok("runs", "list", "-w", "test-ws")
    shown = json.loads(_ok("runs", "show", filled.id, "-w", "test-ws"))
    assert shown["runId"] == filled.id and shown["metrics"] == {"acc": 0.9}
    assert "hello log" in _ok("runs", "logs", filled.id, "-w", "test-ws")
    out = tmp_path / "dl"
    _ok(
        "runs",
        "download",
        filled.id,
        "-w",
        "test-ws",
        "--prefix",
        "outputs",
        "--output-dir",
        str(out),
    )
    assert (out / "outputs" / "model.pkl").read_bytes() == b"m"


def test_workspace_from_config_json(filled):
    filled.experiment.workspace.write_config()
    rows = json.loads(_ok("runs", "list", "--json"))
    assert rows[0]["run_id"] == filled.id


def test_no_workspace_and_no_config_is_a_clear_error(runyard_home):
    result = cli.invoke(app, ["runs", "list"])
    assert result.exit_code == 1
    assert "--workspace NAME" in result.output and "config.json" in result.output


def test_missing_run_is_red_error(filled):
    result = cli.invoke(app, ["runs", "show", "nope_1_x", "-w", "test-ws"])
    assert result.exit_code == 1 and "No run with id 'nope_1_x'" in result.output


def test_models_list_show_download(filled, tmp_path):
    rows = json.loads(_ok("models", "list", "-w", "test-ws", "--json"))
    assert [(r["name"], r["version"], r["run_id"]) for r in rows] == [("cli-model", 1, filled.id)]
    assert json.loads(_ok("models", "list", "-w", "test-ws", "--name", "zzz", "--json")) == []
    shown = json.loads(_ok("models", "show", "cli-model", "-w", "test-ws"))
    assert shown["files"] == ["model.pkl"] and shown["tags"] == {"k": "v"}
    target = tmp_path / "m"
    _ok("models", "download", "cli-model", "-w", "test-ws", "--target-dir", str(target))
    assert (target / "model.pkl").read_bytes() == b"m"
    again = cli.invoke(
        app, ["models", "download", "cli-model", "-w", "test-ws", "--target-dir", str(target)]
    )
    assert again.exit_code == 1 and "Pass --exist-ok" in again.output
    assert "--target-dir" in again.output and "exist_ok=True" not in again.output
    missing = cli.invoke(app, ["models", "show", "ghost", "-w", "test-ws"])
    assert missing.exit_code == 1 and "ghost" in missing.output


def test_cancel_interactive_run(ws):
    run = Experiment(ws, "cli-cancel").start_logging(snapshot_directory=None)
    assert "Canceled" in _ok("runs", "cancel", run.id, "-w", "test-ws")
    assert run.get_status() == "Canceled"


def test_agent_status_and_stop_without_agent(ws):
    status = json.loads(_ok("agent", "status", "-w", "test-ws", "--json"))
    assert status["running"] is False
    assert "No agent was running." in _ok("agent", "stop", "-w", "test-ws")


def test_console_script_runs(filled):
    exe = shutil.which("runyard") or str(Path(__file__).parents[1] / ".venv" / "bin" / "runyard")
    if not Path(exe).exists():
        pytest.skip("console script not installed (pip install -e .)")
    out = subprocess.run(
        [exe, "models", "list", "-w", "test-ws", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [m["id"] for m in json.loads(out.stdout)] == ["cli-model:1"]
    assert Model.list(filled.experiment.workspace)[0].id == "cli-model:1"


def test_agent_start_status_and_stop(ws):
    text = _ok("agent", "status", "-w", "test-ws")
    assert "not running" in text and "runyard agent start -w test-ws" in text
    assert "Agent started (pid " in _ok("agent", "start", "-w", "test-ws")
    assert "already running" in _ok("agent", "start", "-w", "test-ws")
    assert json.loads(_ok("agent", "status", "-w", "test-ws", "--json"))["running"] is True
    assert "Agent stopped." in _ok("agent", "stop", "-w", "test-ws")
