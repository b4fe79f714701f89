"""RunDetails in a real Jupyter kernel: nbclient runs a notebook (built here with nbformat)
on an ipykernel of this venv's Python, as a user's "Run all" would, against runs of a real
agent. The widget's state that nbclient saves in the notebook is what a front end draws."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from runyard.widgets import _charts

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")

pytestmark = pytest.mark.timeout(240)

TRAIN = """
import pathlib, sys, time
from azureml.core import Run
run = Run.get_context()
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
    print(f"epoch {i} loss {1.0 / (i + 1):.3f}", flush=True)
run.log("accuracy", 0.75)
release, deadline = pathlib.Path(sys.argv[1]), time.monotonic() + 120
while not release.exists():  # the notebook releases the run once it has shown it Running
    if time.monotonic() > deadline:
        sys.exit("never released")
    time.sleep(0.05)
print("training done", flush=True)
"""

SWEEP_CHILD = """
import argparse
from azureml.core import Run
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
a = p.parse_args()
run = Run.get_context()
for i in range(3):
    run.log("acc", a.lr * (i + 1))
"""

WAIT_FOR = """
import time

def wait_for(predicate, what, timeout=90):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
"""


@pytest.fixture
def kernel_env(tmp_path, monkeypatch, services):
    """The kernel nbclient starts: 'python3' is this venv's Python (a kernelspec of our
    own first on JUPYTER_PATH, so no user-level spec can take the name), with its own
    IPython profile; the widget refreshes every 0.2 s."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (runyard tests)",
            "language": "python",
        })
    )  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "0.2")
    return tmp_path


def _run_notebook(cells: list[str], cwd: Path):
    notebook = nbformat.v4.new_notebook()
    first = "import sys\nfrom runyard.compat import hook\nhook.install()\nprint(sys.executable)"
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in [first, WAIT_FOR, *cells]]
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    assert _stdout(notebook.cells[0]).strip() == sys.executable  # this venv's Python
    return notebook


def _stdout(cell) -> str:
    return "".join(o["text"] for o in cell.outputs if o.get("name") == "stdout")


def _streams(notebook) -> str:
    """Everything the cells printed (stderr too: the refresher logs its failures)."""
    return "\n".join(
        f"[{i} {o['name']}] {o['text']}"
        for i, cell in enumerate(notebook.cells)
        for o in cell.outputs
        if o["output_type"] == "stream"
    )


def _widget_states(notebook) -> dict[str, dict]:
    saved = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    return saved["state"]


def _html_values(notebook) -> list[str]:
    """The final value of every HTML widget, as a front end would draw them."""
    states = _widget_states(notebook).values()
    return [s["state"]["value"] for s in states if s["model_name"] == "HTMLModel"]


def _section(values: list[str], css_class: str) -> str:
    [found] = [v for v in values if f'class="{css_class}"' in v.split(">", 1)[0]]
    return found


def _displayed_widget(cell) -> dict:
    [shown] = [o for o in cell.outputs if o["output_type"] == "display_data"]
    return shown["data"]


def test_a_user_run_is_drawn_and_refreshed_until_it_ends(kernel_env, ws, source, wait_until):
    from runyard.core import Experiment, ScriptRunConfig

    release = kernel_env / "release"
    config = ScriptRunConfig(
        source_directory=str(source(**{"train.py": TRAIN})),
        script="train.py",
        arguments=[str(release)],
    )
    run = Experiment(ws, "widget-run").submit(config)
    wait_until(lambda: "accuracy" in run.get_metrics(), 120, "the run to log its metrics")
    child = run.child_run(name="evaluate")
    child.log("f1", 0.5)
    child.complete()

    notebook = _run_notebook(
        [
            "from azureml.core import Run, Workspace\n"
            "from azureml.widgets import RunDetails\n"
            f"run = Run.get(Workspace.get('test-ws'), {run.id!r})\n"
            "details = RunDetails(run)\n"
            "details.show()",
            textwrap.dedent("""
                view = details._view
                wait_for(lambda: "epoch 2" in view.log.value, "the driver log in the widget")
                print(view.header.value)
            """),
            f"open({str(release)!r}, 'w').close()\n"
            "assert details._wait(120), 'the widget is still refreshing'\n"
            "print(details.get_widget_data()['status'], repr(view.error.value))",
            # A kernel without ipywidgets: the text summary and the install hint.
            "sys.modules['ipywidgets'] = None\nRunDetails(run).show()",
        ],
        kernel_env,
    )
    cells = notebook.cells
    shown = _displayed_widget(cells[2])
    assert "application/vnd.jupyter.widget-view+json" in shown
    assert shown["text/plain"].startswith(f"Run {run.id}: Running")  # no-widget fallback
    assert 'data-status="Running"' in shown["text/html"]
    assert 'data-status="Running"' in _stdout(cells[3])  # drawn while the run went on
    assert _stdout(cells[4]).strip() == "Completed ''", _streams(notebook)

    values = _html_values(notebook)
    header = _section(values, "runyard-run-properties")
    assert 'data-status="Completed"' in header and run.id in header and "train.py" in header
    metrics = _section(values, "runyard-metrics")
    assert '<polyline data-series="loss"' in metrics  # logged three times: a chart
    assert 'data-series="accuracy"' not in metrics and ">accuracy<" in metrics  # once: no chart
    log = _section(values, "runyard-log")
    assert 'data-log="azureml-logs/70_driver_log.txt"' in log
    assert "epoch 0 loss 1.000" in log and "training done" in log and "Run is completed." in log
    children = _section(values, "runyard-children")
    assert child.id in children and 'data-status="Completed"' in children

    printed = _stdout(cells[5]).splitlines()
    assert printed[0] == f"Run {run.id}: Completed"
    assert printed[-1].endswith("pip install 'runyard[notebook]'")


def test_a_sweep_shows_its_children_hyperparameters_and_primary_metric(kernel_env, ws, source):
    from runyard.core import Experiment, ScriptRunConfig
    from runyard.train.hyperdrive import (
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    config = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source_directory=str(source(**{"train.py": SWEEP_CHILD})), script="train.py"
        ),
        hyperparameter_sampling=GridParameterSampling({"--lr": choice(0.1, 0.5)}),
        primary_metric_name="acc",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=2,
        max_concurrent_runs=2,
    )
    sweep = Experiment(ws, "widget-sweep").submit(config)

    notebook = _run_notebook(
        [
            "from azureml.core import Run, Workspace\n"
            "from azureml.widgets import RunDetails\n"
            f"sweep = Run.get(Workspace.get('test-ws'), {sweep.id!r})\n"
            "details = RunDetails(sweep)\n"
            "print(type(details).__name__)\n"
            "details.show()",
            "assert details._wait(150), 'the widget is still refreshing'\n"
            "data = details.get_widget_data()\n"
            "print(data['status'], sorted(c['param_--lr'] for c in data['child_runs']))\n"
            "print(repr(details._view.error.value))",
        ],
        kernel_env,
    )
    cells = notebook.cells
    assert _stdout(cells[2]).strip() == "_HyperDriveRunDetails"
    assert _stdout(cells[3]).splitlines() == ["Completed [0.1, 0.5]", "''"], _streams(notebook)

    values = _html_values(notebook)
    header = _section(values, "runyard-run-properties")
    assert 'data-status="Completed"' in header and "acc (maximize)" in header
    assert "<code>choice(0.1, 0.5)</code>" in header
    lrs = {child: json.loads(v)["--lr"] for child, v in sweep.get_hyperparameters().items()}
    [best] = [child for child, lr in lrs.items() if lr == 0.5]  # acc 0.5, 1.0, 1.5
    assert f"{best} (acc 1.5)" in header
    children = _section(values, "runyard-children")
    assert ">--lr</th>" in children and ">Best acc</th>" in children
    for child, lr in lrs.items():
        row = children.split(f"{child}</td>", 1)[1].split("</tr>", 1)[0]
        assert f">{lr}</td>" in row and f">{_charts.fmt(3 * lr)}</td>" in row
        assert 'data-status="Completed"' in row
    charts = _section(values, "runyard-sweep-charts")
    numbers = [c.number for c in sweep.get_children()]
    for number in numbers:  # every child's acc on the one chart
        assert f'<polyline data-series="Run {number}"' in charts
    assert 'class="runyard-parallel-svg"' in charts
    log = _section(values, "runyard-log")
    assert 'data-log="azureml-logs/hyperdrive.txt"' in log and "submitted" in log
