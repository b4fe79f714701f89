"""`runyard runs ...`: whole run ids, --status, --limit, duration, finished-run cancel."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from runyard.cli import app
from runyard.core import Experiment

cli = CliRunner()


def _invoke(*args: str, columns: int = 100):
    return cli.invoke(app, list(args), env={"COLUMNS": str(columns)})


def _three_runs(ws):
    exp = Experiment(ws, "an-experiment-with-a-rather-long-name")
    done = exp.start_logging(snapshot_directory=None)
    done.complete()
    failed = exp.start_logging(snapshot_directory=None)
    failed.fail()
    running = exp.start_logging(snapshot_directory=None)
    return done, failed, running


def test_runs_list_never_cuts_run_ids_and_shows_a_duration(ws):
    done, failed, running = _three_runs(ws)
    result = _invoke("runs", "list", "-w", ws.name)
    assert result.exit_code == 0, result.output
    for run in (done, failed, running):
        assert run.id in result.stdout
    assert "duration" in _invoke("runs", "list", "-w", ws.name, columns=200).stdout
    rows = json.loads(_invoke("runs", "list", "-w", ws.name, "--json").stdout)
    assert all(r["duration"].count(":") == 2 for r in rows)


def test_runs_list_status_and_limit(ws):
    done, failed, running = _three_runs(ws)
    out = _invoke("runs", "list", "-w", ws.name, "--json", "--status", "Completed", "-s", "Failed")
    assert {r["run_id"] for r in json.loads(out.stdout)} == {done.id, failed.id}
    out = _invoke("runs", "list", "-w", ws.name, "--json", "--limit", "1")
    assert [r["run_id"] for r in json.loads(out.stdout)] == [running.id]


def test_runs_list_unknown_status_and_experiment_say_so(ws):
    _three_runs(ws)
    bad_status = _invoke("runs", "list", "-w", ws.name, "--status", "Done")
    assert bad_status.exit_code != 0 and "Done" in bad_status.output
    unknown = _invoke("runs", "list", "-w", ws.name, "-e", "no-such-exp")
    assert unknown.exit_code != 0 and "no-such-exp" in unknown.output


def test_cancel_of_a_finished_run_says_it_already_ended(ws):
    done, _, _ = _three_runs(ws)
    result = _invoke("runs", "cancel", done.id, "-w", ws.name)
    assert result.exit_code == 0, result.output
    assert "already ended Completed" in result.stdout
    assert "nothing to cancel" in result.stdout
    assert done.get_status() == "Completed"


def test_every_runs_and_models_option_has_help():
    for group in ("runs", "models"):
        for command in ("list", "show", "download"):
            text = _invoke(group, command, "--help").stdout
            assert "--workspace" in text
    runs_list = _invoke("runs", "list", "--help").stdout
    for option in ("--status", "--limit", "--experiment"):
        assert option in runs_list
    assert "Only runs in this status" in runs_list and "at most this many" in runs_list
