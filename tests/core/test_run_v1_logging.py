"""v1's JSON metrics (log_confusion_matrix & co), flush, get_portal_url and the checks on
metric names, on both the interactive (store) and the job (spool) paths."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from runyard._metric_values import MAX_METRIC_NAME_LENGTH
from runyard.core import Experiment, Run, ScriptRunConfig
from runyard.core.run_context import _OfflineRun
from runyard.exceptions import UserErrorException

CONFUSION = {
    "schema_type": "confusion_matrix",
    "schema_version": "1.0.0",
    "data": {"class_labels": ["0", "1"], "matrix": [[3, 0], [1, 2]]},
}
RESIDUALS = {
    "schema_type": "residuals",
    "schema_version": "1.0.0",
    "data": {"bin_edges": [50, 100, 200], "bin_counts": [0.88, 20]},
}
PREDICTIONS = {
    "schema_type": "predictions",
    "schema_version": "1.0.0",
    "data": {
        "bin_averages": [0.25, 0.75],
        "bin_errors": [0.013, 0.042],
        "bin_counts": [56, 34],
        "bin_edges": [0.0, 0.5, 1.0],
    },
}
ACCURACY = {
    "schema_type": "accuracy_table",
    "schema_version": "1.0.1",
    "data": {
        "probability_tables": [[[82, 118, 0, 0], [0, 0, 118, 82]]],
        "percentile_tables": [[[82, 118, 0, 0], [3, 0, 118, 79]]],
        "probability_thresholds": [0.0, 1.0],
        "percentile_thresholds": [0.0, 1.0],
        "class_labels": ["0"],
    },
}


@pytest.fixture
def run(ws) -> Run:
    return Experiment(ws, "v1-logging").start_logging(snapshot_directory=None)


def test_json_metrics_come_back_as_the_logged_objects(run):
    run.log_confusion_matrix("cm", CONFUSION)
    run.log_accuracy_table("acc_table", json.dumps(ACCURACY), description="str form, as v1")
    run.log_residuals("residuals", RESIDUALS)
    run.log_predictions("predictions", PREDICTIONS)
    run.log_confusion_matrix("cm", CONFUSION)
    metrics = run.get_metrics()
    assert metrics["cm"] == [CONFUSION, CONFUSION]
    assert metrics["acc_table"] == ACCURACY
    assert metrics["residuals"] == RESIDUALS
    assert metrics["predictions"] == PREDICTIONS


def test_json_metric_accepts_numpy_arrays(run):
    np = pytest.importorskip("numpy")
    run.log_confusion_matrix("cm", {**CONFUSION, "data": {"matrix": np.array([[1, 2], [3, 4]])}})
    assert run.get_metrics("cm")["cm"]["data"]["matrix"] == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.log_confusion_matrix("cm", "{not json"), "is not valid JSON"),
        (lambda r: r.log_residuals("res", [1, 2]), "got a list; it takes a JSON object"),
        (lambda r: r.log_predictions("p", RESIDUALS), "got schema_type 'residuals'"),
        (lambda r: r.log_confusion_matrix("cm", {"data": {1, 2}}), "cannot be stored as JSON"),
    ],
)
def test_bad_json_metric_names_the_problem_and_stores_nothing(run, call, message):
    run.log("kept", 1)
    with pytest.raises(UserErrorException, match=message):
        call(run)
    assert run.get_metrics() == {"kept": 1}


def test_json_metric_kind_conflict_keeps_the_first(run):
    run.log("cm", 0.5)
    with pytest.raises(UserErrorException, match="cannot also be logged"):
        run.log_confusion_matrix("cm", CONFUSION)
    assert run.get_metrics() == {"cm": 0.5}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("loss\n", r"control character '\\n' at position 4"),
        ("a\tb", r"control character '\\t' at position 1"),
        (
            "x" * (MAX_METRIC_NAME_LENGTH + 1),
            "is 256 characters long; metric names are at most 255",
        ),
    ],
)
def test_bad_metric_names_are_refused(run, name, message):
    for call in (
        lambda: run.log(name, 1),
        lambda: run.log_list(name, [1]),
        lambda: run.log_row(name, a=1),
        lambda: run.log_confusion_matrix(name, CONFUSION),
    ):
        with pytest.raises(UserErrorException, match=message):
            call()
    assert run.get_metrics() == {}


def test_longest_allowed_metric_name_is_kept(run):
    name = "m" * MAX_METRIC_NAME_LENGTH
    run.log(name, 1)
    assert run.get_metrics() == {name: 1}


def test_log_list_of_lists_says_it_takes_a_flat_list(run):
    with pytest.raises(UserErrorException) as err:
        run.log_list("xs", [[1, 2], [3, 4]])
    message = str(err.value)
    assert "got a nested list ([1, 2])" in message and "flat list" in message
    assert "takes one value" not in message
    assert run.get_metrics() == {}


def test_flush_returns_at_once_and_loses_nothing(run):
    run.log("a", 1)
    assert run.flush() is None
    assert run.flush(timeout_seconds=1) is None
    assert run.get_metrics() == {"a": 1}


def test_portal_url_is_the_run_folder(run, ws):
    run.upload_file("notes.txt", str(_write(ws._layout.root.parent / "notes.txt", "hi")))
    url = run.get_portal_url()
    assert url.startswith("file://")
    folder = Path(url2pathname(urlparse(url).path))
    assert folder == ws._layout.artifacts_dir / "runs" / run.id
    assert (folder / "notes.txt").read_text() == "hi"


def test_offline_run_prints_json_metrics_and_flush(capsys):
    offline = _OfflineRun()
    offline.log_confusion_matrix("cm", CONFUSION)
    offline.log_residuals("res", RESIDUALS)
    offline.flush()
    out = capsys.readouterr().out
    assert "Attempted to log confusion_matrix metric cm:\n" in out
    assert "Attempted to log residual metric res:\n" in out
    assert f"Attempted to flush run with id {offline.id}" in out


JOB = textwrap.dedent(
    """
    import json
    from runyard.core import Run
    run = Run.get_context()
    cm = json.loads(open("cm.json").read())
    run.log_confusion_matrix("cm", cm)
    run.log_predictions("pred", json.dumps(cm | {"schema_type": "predictions"}))
    try:
        run.log("bad\\nname", 1)
    except Exception as exc:
        run.log("refused", str(exc)[:40])
    run.flush()
    """
)


@pytest.mark.timeout(120)
def test_json_metrics_from_a_submitted_job(ws, source, services):
    src = source(**{"job.py": JOB, "cm.json": json.dumps(CONFUSION)})
    run = Experiment(ws, "v1-logging-job").submit(ScriptRunConfig(str(src), script="job.py"))
    run.wait_for_completion()
    metrics = run.get_metrics()
    assert metrics["cm"] == CONFUSION
    assert metrics["pred"] == CONFUSION | {"schema_type": "predictions"}
    assert metrics["refused"].startswith("Metric name 'bad\\nname' contains")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
