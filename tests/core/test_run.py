"""Interactive runs: metric shapes, bad values, tags/properties, children, details."""

from __future__ import annotations

import math

import pytest

from runyard.core import Experiment, Run
from runyard.exceptions import ImmutablePropertyError, RunNotFound, UserErrorException


@pytest.fixture
def run(ws):
    return Experiment(ws, "metrics").start_logging(snapshot_directory=None)


def test_metric_shapes_match_v1(run):
    run.log("once", 0.5)
    for v in (1, 2, 3):
        run.log("many", v)
    run.log_list("one_item_list", [7])
    run.log_list("a_list", [1, 2.5, "x"])
    run.log_row("one_row", epoch=1, loss=0.3)
    run.log_row("rows", epoch=1, loss=0.3)
    run.log_row("rows", epoch=2, loss=0.2)
    run.log_table("table", {"a": [1, 2], "b": ["x", "y"]})
    run.log("flag", True)
    run.log("text", "hello")
    assert run.get_metrics() == {
        "once": 0.5,
        "many": [1, 2, 3],
        "one_item_list": 7,
        "a_list": [1, 2.5, "x"],
        "one_row": {"epoch": 1, "loss": 0.3},
        "rows": {"epoch": [1, 2], "loss": [0.3, 0.2]},
        "table": {"a": [1, 2], "b": ["x", "y"]},
        "flag": True,
        "text": "hello",
    }
    assert run.get_metrics(name="many") == {"many": [1, 2, 3]}


def test_nan_and_inf_round_trip(run):
    run.log("nan", float("nan"))
    run.log("inf", float("inf"))
    run.log_list("mixed", [float("-inf"), 1.0])
    got = run.get_metrics()
    assert math.isnan(got["nan"]) and got["inf"] == math.inf
    assert got["mixed"] == [-math.inf, 1.0]


def test_numpy_scalars_are_plain_values(run):
    np = pytest.importorskip("numpy")
    run.log("np", np.float32(0.25))
    run.log("npi", np.int64(3))
    assert run.get_metrics() == {"np": 0.25, "npi": 3}


def test_image_metric_is_an_artifact_location(run, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    plt.plot([1, 2, 3])
    run.log_image("curve", plot=fig)
    plt.close(fig)
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG fake")
    run.log_image("pic", path=str(png))
    metrics = run.get_metrics()
    assert metrics["curve"] == f"aml://artifactId/ExperimentRun/dcid.{run.id}/curve.png"
    assert metrics["pic"] == f"aml://artifactId/ExperimentRun/dcid.{run.id}/pic.png"
    assert set(run.get_file_names()) == {"curve.png", "pic.png"}
    assert run.get_metrics(name="pic", populate=True) == {"pic": b"\x89PNG fake"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.log("m", [1, 2]), "Use run.log_list('m', values)"),
        (lambda r: r.log("m", {"a": 1}), "a metric value must be"),
        (lambda r: r.log("m", None), "got a value of type NoneType"),
        (lambda r: r.log("", 1), "must be a non-empty str"),
        (lambda r: r.log("m", 1, step="x"), "step must be an int"),
        (lambda r: r.log_list("m", 5), "it takes a list of values"),
        (lambda r: r.log_list("m", [1, object()]), "got a value of type object"),
        (lambda r: r.log_row("m"), "got no columns"),
        (lambda r: r.log_table("m", {"a": [1], "b": [1, 2]}), "different lengths"),
        (lambda r: r.log_image("m"), "exactly one of path="),
        (lambda r: r.log_image("m", path="missing.png"), "no such file"),
    ],
)
def test_bad_metric_values_store_nothing(run, call, message):
    run.log("kept", 1)
    with pytest.raises(UserErrorException) as err:
        call(run)
    assert message in str(err.value)
    assert run.get_metrics() == {"kept": 1}
    assert run.get_file_names() == []


def test_metric_kind_conflict_keeps_first_kind(run):
    run.log("acc", 0.1)
    with pytest.raises(UserErrorException, match="cannot also be logged"):
        run.log_row("acc", x=1)
    assert run.get_metrics() == {"acc": 0.1}


def test_tags_and_properties(run):
    run.tag("stage")
    run.set_tags({"a": "1", "b": 2})
    run.remove_tags(["b"])
    assert run.get_tags() == {"stage": None, "a": "1"}
    assert run.tags == {"stage": None, "a": "1"}
    run.add_properties({"p": "v"})
    run.add_properties({"p": "v"})
    with pytest.raises(ImmutablePropertyError) as err:
        run.add_properties({"p": "other", "q": "new"})
    assert "'p'" in str(err.value) and "cannot be changed" in str(err.value)
    assert run.get_properties() == {"p": "v"}


def test_bad_tag_value_names_it_and_stores_nothing(run):
    with pytest.raises(UserErrorException, match=r"value for 'k' is a list"):
        run.set_tags({"ok": "1", "k": [1]})
    assert run.get_tags() == {}


def test_children_parent_and_display_name(run):
    child = run.child_run(name="fold-1")
    grandchild = child.child_run()
    assert child.parent.id == run.id and grandchild.parent.id == child.id
    assert run.parent is None
    assert child.display_name == "fold-1" and child.get_status() == "Running"
    assert [c.id for c in run.get_children()] == [child.id]
    assert {c.id for c in run.get_children(recursive=True)} == {child.id, grandchild.id}
    child.complete()
    assert [c.id for c in run.get_children(status="Completed")] == [child.id]
    run.display_name = "renamed"
    assert Run.get(run.experiment.workspace, run.id).display_name == "renamed"
    child.log("loss", 1.0)
    assert run.get_metrics(recursive=True) == {
        run.id: {},
        child.id: {"loss": 1.0},
        grandchild.id: {},
    }


def test_details_keys_and_status_lifecycle(run):
    details = run.get_details()
    for key in ("runId", "target", "status", "startTimeUtc", "endTimeUtc", "properties",
                "inputDatasets", "outputDatasets", "runDefinition", "logFiles", "submittedBy",
                "warnings", "services"):  # fmt: skip
        assert key in details
    assert details["status"] == "Running" and "error" not in details
    run.upload_file("logs/app.log", _stream(b"line 1\n"))
    assert run.get_details_with_logs()["logFiles"] == {"logs/app.log": "line 1\n"}
    run.fail(error_details="bad data", error_code="DataError")
    failed = run.get_details()
    assert failed["status"] == "Failed" and failed["endTimeUtc"]
    assert failed["error"]["error"] == {"code": "DataError", "message": "bad data"}


def _stream(data: bytes):
    import io

    return io.BytesIO(data)


def test_context_manager_completes_or_fails(ws):
    exp = Experiment(ws, "ctx")
    with exp.start_logging(snapshot_directory=None) as ok:
        ok.log("x", 1)
    assert ok.get_status() == "Completed"
    with pytest.raises(ValueError), exp.start_logging(snapshot_directory=None) as bad:
        raise ValueError("boom")
    assert bad.get_status() == "Failed"
    assert "boom" in bad.get_details()["error"]["error"]["message"]


def test_terminal_run_cannot_restart(run):
    run.complete()
    with pytest.raises(Exception, match="already Completed"):
        run.start()
    assert run.get_status() == "Completed"


def test_cancel_interactive_run(run):
    run.cancel()
    assert run.get_status() == "Canceled"


def test_run_get_missing_names_the_id(ws):
    with pytest.raises(RunNotFound, match="'nope_1_abc'.*runyard runs list"):
        Run.get(ws, "nope_1_abc")


def test_run_list_filters_by_status(ws):
    exp = Experiment(ws, "listing")
    a = exp.start_logging(snapshot_directory=None)
    b = exp.start_logging(snapshot_directory=None)
    a.complete()
    assert [r.id for r in Run.list(exp, status="Completed")] == [a.id]
    assert [r.id for r in Run.list(exp, status="Running")] == [b.id]


def test_run_object_is_lazy(ws):
    exp = Experiment(ws, "lazy")
    run = Run(exp, "does_not_exist_yet")
    assert run.id == "does_not_exist_yet"
    with pytest.raises(RunNotFound):
        _ = run.status


def test_context_manager_keeps_status_the_body_set(ws):
    exp = Experiment(ws, "ctx-ended")
    with exp.start_logging(snapshot_directory=None) as failed:
        failed.fail(error_details="bad data", error_code="DataError")
    assert failed.get_status() == "Failed"
    assert failed.get_details()["error"]["error"]["message"] == "bad data"


def test_context_manager_lets_the_body_exception_through_after_complete(ws):
    exp = Experiment(ws, "ctx-ended")
    with pytest.raises(KeyError, match="user"), exp.start_logging(snapshot_directory=None) as run:
        run.complete()
        raise KeyError("user")
    assert run.get_status() == "Completed"


def test_get_metrics_name_must_be_one_str(run):
    run.log("a", 1)
    with pytest.raises(UserErrorException, match=r"name=\['a'\].*one metric name"):
        run.get_metrics(name=["a"])
    assert run.get_metrics(name="a") == {"a": 1}


def test_get_metrics_recursive_run_type_filters_descendants_only(run):
    run.log("root", 1)
    child = run.child_run()
    child.log("child", 2)
    assert run.get_metrics(recursive=True, run_type="hyperdrive") == {run.id: {"root": 1}}
    assert run.get_metrics(recursive=True, run_type="interactive") == {
        run.id: {"root": 1},
        child.id: {"child": 2},
    }


def test_run_list_unknown_status_lists_the_valid_ones(ws):
    exp = Experiment(ws, "listing-bad")
    run = exp.start_logging(snapshot_directory=None)
    with pytest.raises(UserErrorException, match=r"status 'Done' is not a run status.*'Completed'"):
        list(Run.list(exp, status="Done"))
    with pytest.raises(UserErrorException, match=r"status 'running' is not a run status"):
        list(run.get_children(status="running"))


def test_get_detailed_status(ws):
    from runyard._entities import RunStatus
    from runyard._services import runs

    exp = Experiment(ws, "detailed")
    run = exp.start_logging(snapshot_directory=None)
    assert run.get_detailed_status() == {"status": "Running", "details": None}
    queued = runs.start_run(ws._services, experiment_name="detailed", status=RunStatus.QUEUED)
    waiting = Run(exp, queued.run_id).get_detailed_status()
    assert waiting["status"] == "Queued" and "waiting for a free node" in waiting["details"]
