"""RunDetails outside a kernel: the data behind it, the text it prints in a plain Python
(with and without ipywidgets), its refresh schedule, its charts and its light import."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

import pytest

from runyard.widgets import _charts, _refresh
from runyard.widgets._summary import INSTALL_HINT, KERNEL_HINT

V1_KEYS = {"status", "workbench_run_details_uri", "run_id", "run_properties", "child_runs",
           "children_metrics", "run_metrics", "run_logs", "graph", "widget_settings"}  # fmt: skip


@pytest.fixture
def logged_run(ws):
    """An ended interactive run: 'loss' logged four times, 'accuracy' once, a table, and
    one child that logged 'loss' twice."""
    from runyard.core import Experiment

    run = Experiment(ws, "widgets").start_logging(snapshot_directory=None)
    for value in (1.0, 0.5, 0.4, 0.25):
        run.log("loss", value)
    run.log("accuracy", 0.75)
    run.log_row("per_class", label="cat", recall=0.5)
    child = run.child_run(name="evaluate")
    child.log("loss", 0.3)
    child.log("loss", 0.2)
    child.complete()
    run.complete()
    return run


def _show_in_plain_python(run_id: str, *, block_ipywidgets: bool) -> subprocess.CompletedProcess:
    code = (
        ("import sys; sys.modules['ipywidgets'] = None\n" if block_ipywidgets else "")
        + "from runyard.compat import hook; hook.install()\n"
        "from azureml.core import Run, Workspace\n"
        "from azureml.widgets import RunDetails\n"
        f"RunDetails(Run.get(Workspace.get('test-ws'), {run_id!r})).show()\n"
        "print('ipywidgets' in sys.modules and sys.modules['ipywidgets'] is not None)\n"
    )
    if not block_ipywidgets:
        code = "import sys\n" + code
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_get_widget_data_gives_v1s_keys_metrics_and_children(logged_run):
    from runyard.widgets import RunDetails

    details = RunDetails(logged_run)
    data = details.get_widget_data()
    assert set(data) == V1_KEYS
    assert data["status"] == "Completed" and data["run_id"] == logged_run.id
    assert data["workbench_run_details_uri"] == logged_run.get_portal_url()
    props = data["run_properties"]
    assert props["status"] == "Completed" and props["run_number"] == str(logged_run.number)
    assert props["run_duration"] is not None and props["end_time_utc"] is not None
    metrics = {m["name"]: m for m in data["run_metrics"]}
    assert metrics["loss"]["series"] == [{"data": [1.0, 0.5, 0.4, 0.25]}]
    assert metrics["loss"]["categories"] == [0, 1, 2, 3]
    assert metrics["accuracy"]["series"] == [{"data": [0.75]}]
    assert metrics["per_class"]["series"] == [{"data": [{"label": "cat", "recall": 0.5}]}]
    [child] = data["child_runs"]
    assert child["name"] == "evaluate" and child["status"] == "Completed"
    assert {"run_id", "run_number", "metric", "start_time", "end_time", "duration"} <= set(child)
    assert data["children_metrics"] == {"categories": None, "series": None, "metricName": None}
    assert data["run_logs"] == "Run is completed."  # no log file: v1's closing line alone
    assert data["widget_settings"] == {}


def test_widget_settings_metric_charts_the_childrens_metric_as_v1(logged_run):
    from runyard.widgets import RunDetails

    data = RunDetails(logged_run).get_widget_data({"Metric": {"name": "loss"}})
    [child] = data["child_runs"]
    assert child["metric"] == 0.2 and child["best_metric"] == 0.2  # goal: minimize
    series = data["children_metrics"]["series"]["loss"]
    assert series == [{"run_id": child["run_number"], "name": child["run_number"],
                       "data": [0.3, 0.2], "mode": "lines", "stepped": False}]  # fmt: skip
    assert data["children_metrics"]["primaryMetricName"] == "loss"
    assert data["widget_settings"]["Metric"] == {"name": "loss"}


def test_show_without_ipywidgets_prints_a_summary_and_the_install_hint(logged_run):
    proc = _show_in_plain_python(logged_run.id, block_ipywidgets=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Run {logged_run.id}: Completed"
    assert "  loss: 0.25 (last of 4)" in lines and "  accuracy: 0.75" in lines
    assert any(line.startswith("Child runs (1") for line in lines)
    assert lines[-2] == INSTALL_HINT and "pip install 'runyard[notebook]'" in INSTALL_HINT
    assert lines[-1] == "False"


def test_show_in_a_plain_python_with_ipywidgets_prints_the_summary_not_a_widget(logged_run):
    proc = _show_in_plain_python(logged_run.id, block_ipywidgets=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Run {logged_run.id}: Completed"
    assert lines[-2] == KERNEL_HINT
    assert lines[-1] == "False"  # nothing drawn, so ipywidgets was never imported


def test_show_hands_render_lib_a_snapshot(logged_run):
    from runyard.widgets import RunDetails

    pages: list[str] = []
    RunDetails(logged_run).show(render_lib=pages.append)
    [page] = pages
    assert 'data-status="Completed"' in page and '<polyline data-series="loss"' in page


def test_importing_the_widgets_loads_neither_ipywidgets_nor_ipython():
    code = (
        "import sys, runyard, runyard.widgets\n"
        "from runyard.compat import hook; hook.install()\n"
        "from azureml.widgets import RunDetails\n"
        "import runyard.widgets as w; assert RunDetails is w.RunDetails\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'IPython')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_details_refuses_what_is_not_a_run_of_a_workspace():
    from runyard.core import Run
    from runyard.exceptions import UserErrorException
    from runyard.widgets import RunDetails

    offline = Run.get_context()
    with pytest.raises(UserErrorException, match=r"RunDetails\(\) takes a run of a workspace"):
        RunDetails(offline)


def test_bad_widget_settings_are_refused(logged_run):
    from runyard.exceptions import UserErrorException
    from runyard.widgets import RunDetails

    with pytest.raises(UserErrorException, match="widget_settings must be a dict"):
        RunDetails(logged_run).show(widget_settings=["debug"])


def test_refresh_follows_v1s_schedule():
    assert _refresh.interval(0, sweep=False, override=None) == 5
    assert _refresh.interval(0, sweep=True, override=None) == 20
    assert _refresh.interval(1800, sweep=False, override=None) == pytest.approx(32.5)
    assert _refresh.interval(7200, sweep=True, override=None) == 60
    assert _refresh.interval(7200, sweep=True, override=0.5) == 0.5


def test_the_refresh_override_is_read_and_checked(monkeypatch):
    from runyard.exceptions import UserErrorException

    monkeypatch.delenv(_refresh.REFRESH_TIME_OVERRIDE, raising=False)
    assert _refresh.override_seconds() is None
    monkeypatch.setenv(_refresh.REFRESH_TIME_OVERRIDE, "2.5")
    assert _refresh.override_seconds() == 2.5
    for bad in ("soon", "0", "-1", "inf"):
        monkeypatch.setenv(_refresh.REFRESH_TIME_OVERRIDE, bad)
        with pytest.raises(UserErrorException, match=r"not a number of seconds above 0; set"):
            _refresh.override_seconds()


def test_a_line_chart_draws_each_series_and_escapes_its_names():
    html = _charts.line_chart(
        "<b>loss</b>",
        [_charts.Series("a<script>", [(0, 1.0), (1, float("nan")), (2, 0.5)]),
         _charts.Series("b", [(0, 2.0), (1, 1.5)])],
    )  # fmt: skip
    root = ET.fromstring(html)  # well-formed: every text is escaped
    lines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert [line.get("data-series") for line in lines] == ["a<script>", "b"]
    assert len(lines[0].get("points").split()) == 2  # the NaN is left out
    assert "<script>" not in html and "&lt;b&gt;loss&lt;/b&gt;" in html


def test_a_long_series_is_reduced_keeping_its_extremes():
    values = [float(i % 1000) for i in range(100_000)]
    values[54_321] = 5000.0
    html = _charts.line_chart("m", [_charts.Series("m", list(enumerate(values)))])
    points = ET.fromstring(html).find(".//{http://www.w3.org/2000/svg}polyline").get("points")
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert len(ys) <= 1000 and min(ys) == pytest.approx(_charts._MARGIN_TOP)  # the spike


def test_parallel_coordinates_draw_one_line_per_child_with_a_metric():
    html = _charts.parallel_coordinates(
        "hp", ["--lr", "--opt", "acc"],
        [("Run 1", [0.1, "sgd", 0.3]), ("Run 2", [0.5, "adam", 1.5]), ("Run 3", [1, "sgd", None])],
        "maximize",
    )  # fmt: skip
    lines = ET.fromstring(html).findall(".//{http://www.w3.org/2000/svg}polyline")
    assert sorted(line.get("data-series") for line in lines) == ["Run 1", "Run 2"]


def _png() -> bytes:
    """A valid 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0"))
        + chunk(b"IEND", b"")
    )


def test_a_logged_image_is_shown_inline(ws, tmp_path):
    from runyard.core import Experiment
    from runyard.widgets import RunDetails, _views

    png = tmp_path / "confusion.png"
    png.write_bytes(_png())
    run = Experiment(ws, "widgets").start_logging(snapshot_directory=None)
    run.log_image("confusion", path=str(png))
    data = RunDetails(run).get_widget_data()
    [row] = data["run_metrics"]
    assert row["series"][0]["data"][0].startswith("aml://artifactId/")  # v1's location
    assert row["image"] == "data:image/png;base64," + base64.b64encode(_png()).decode()
    assert f'<img src="{row["image"]}"' in _views.metrics_section(data["run_metrics"])
