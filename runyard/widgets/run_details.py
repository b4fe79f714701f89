"""RunDetails: v1's ``azureml.widgets.RunDetails``, the notebook view of a run.

``RunDetails(run)`` picks the view by ``run.type``, as v1 does: a HyperDrive sweep gets the
HyperDrive view, any other run the user-run view (Runyard has no AutoML, pipeline or
reinforcement-learning runs). ``show()`` draws it with ipywidgets in a Jupyter kernel and
refreshes it from a background thread until the run ends; elsewhere, or without
ipywidgets, it writes a short text summary and a one-line hint instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from runyard import __version__
from runyard._entities import RunStatus
from runyard._services.sweeps import RUN_TYPE as SWEEP_RUN_TYPE
from runyard.core.run import Run
from runyard.exceptions import UserErrorException
from runyard.widgets import _jupyter, _refresh, _views
from runyard.widgets._summary import INSTALL_HINT, KERNEL_HINT, summary
from runyard.widgets._widget_data import SweepData, WidgetData

__all__ = ["RunDetails"]

_RUN_SOURCE_PROPERTY = "azureml.runsource"  # v1 reads the type from it when run.type is None


def _run_type(run: Run) -> str:
    run_type = run.type
    if run_type is None:
        run_type = str(run.get_properties().get(_RUN_SOURCE_PROPERTY, "experiment")).lower()
    return run_type


class RunDetails:
    """A Jupyter widget showing a run's progress, refreshed until the run ends.

    The user-run view shows the run's status and properties, its metrics (a chart for
    each metric logged more than once, the logged images), the driver log's end and the
    child runs. The HyperDrive view (``run.type == 'hyperdrive'``) shows the children
    with their hyperparameters and best primary metric, the primary metric of every child
    on one chart, the hyperparameters against it, and the sweep log.

    Args:
        run_instance: The run to show (a ``Run``, ``HyperDriveRun``, or any run of a
            workspace).

    Raises:
        UserErrorException: ``run_instance`` is not a run of a workspace (for example the
            offline run ``Run.get_context()`` gives outside a job).
    """

    _sweep = False

    def __new__(cls, run_instance: Any) -> RunDetails:
        if cls is RunDetails and isinstance(run_instance, Run):
            if _run_type(run_instance) == SWEEP_RUN_TYPE:
                cls = _HyperDriveRunDetails
            else:
                cls = _UserRunDetails
        return super().__new__(cls)

    def __init__(self, run_instance: Any) -> None:
        if not isinstance(run_instance, Run):
            raise UserErrorException(
                f"RunDetails() takes a run of a workspace, got {type(run_instance).__name__} "
                f"({run_instance!r:.80}). Pass the run experiment.submit() returned, or "
                "Run.get(ws, run_id); Run.get_context() outside a job is an offline run, "
                "which has nothing to show."
            )
        self.run_instance = run_instance
        self.settings: dict[str, Any] = {}
        self.widget_instance: Any = None  # the ipywidgets widget, once shown in Jupyter
        self._data = (SweepData if self._sweep else WidgetData)(run_instance)
        self._view: _jupyter.JupyterView | None = None
        self._refresher: _refresh.Refresher | None = None

    def __repr__(self) -> str:
        return f"RunDetails({self.run_instance!r})"

    def _settings(self, widget_settings: Any) -> dict[str, Any]:
        if widget_settings is not None and not isinstance(widget_settings, Mapping):
            raise UserErrorException(
                f"widget_settings must be a dict (e.g. {{'debug': True}}) or None, got "
                f"{type(widget_settings).__name__}."
            )
        defaults = {"childWidgetDisplay": "popup", "send_telemetry": False,
                    "log_level": "INFO", "sdk_version": __version__}  # fmt: skip
        return {**defaults, **(widget_settings or {})}

    def get_widget_data(self, widget_settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The data the widget draws, read from the run now.

        Args:
            widget_settings: v1's settings; ``{'Metric': {'name': ..., 'goal': ...}}``
                charts that metric of a user run's children.

        Returns:
            v1's dict: ``status``, ``workbench_run_details_uri``, ``run_id``,
            ``run_properties`` (status, times, duration, script, arguments, log files,
            properties, tags; a sweep's ``hyper_parameters`` and ``primary_metric``),
            ``child_runs`` (one dict per child: run_id, run_number, status, times,
            duration, ``metric`` and ``best_metric``; a sweep's ``param_<name>`` for each
            hyperparameter), ``children_metrics`` (each child's series by metric name),
            ``run_metrics`` (``[{'name', 'categories', 'series': [{'data'}]}]``),
            ``run_logs`` (the end of the selected log), ``graph`` and ``widget_settings``.

        Raises:
            RunNotFound: The run was deleted from the workspace.
        """
        return self._data.collect(
            self.settings if widget_settings is None else self._settings(widget_settings)
        )

    def show(
        self, render_lib: Callable[[str], Any] | None = None, widget_settings: Any = None
    ) -> None:
        """Draws the widget and keeps it up to date until the run ends, without blocking.

        In a Jupyter kernel with ipywidgets 8 this displays the widget and returns at once;
        a background thread reads the run again every 5 s (20 s for a sweep), slowing to
        every 60 s over the first hour, until the run is Completed, Failed or Canceled
        (``AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME`` sets the interval in seconds). In a
        plain Python, or without ipywidgets, it writes a text summary and a hint instead.

        Args:
            render_lib: A function taking HTML (v1: Databricks' ``displayHTML``); it gets
                a static snapshot of the view, once.
            widget_settings: v1's settings dict (``debug``, ``Metric`` ...).

        Raises:
            UserErrorException: ``widget_settings`` is not a dict, or
                ``AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME`` is not a number of seconds.
        """
        self.settings = self._settings(widget_settings)
        override = _refresh.override_seconds()
        data = self.get_widget_data()
        if render_lib is not None:
            render_lib(_views.page(data, sweep=self._sweep))
            return
        kernel = _jupyter.in_kernel()
        if not kernel or not _jupyter.ipywidgets_available():
            hint = KERNEL_HINT if _jupyter.ipywidgets_available() else INSTALL_HINT
            sys.stdout.write(summary(data, sweep=self._sweep) + hint + "\n")
            sys.stdout.flush()
            return
        self._stop()
        view = _jupyter.JupyterView(data, sweep=self._sweep, on_log_selected=self._select_log)
        self._view, self.widget_instance = view, view.box
        _jupyter.display(view.box)
        if RunStatus(data["status"]).is_terminal():
            return
        self._refresher = _refresh.Refresher(
            f"RunDetails-{self.run_instance.id}",
            self._update,
            view.show_error,
            sweep=self._sweep,
            override=override,
        )
        self._refresher.start()

    def _update(self) -> bool:
        """One refresh; True when there is nothing more to refresh."""
        view = self._view
        if view is None or view.closed():
            return True
        data = self.get_widget_data()
        view.render(data)
        return RunStatus(data["status"]).is_terminal()

    def _select_log(self, name: str) -> None:
        self._data.selected_log = name
        view = self._view
        if view is not None:
            data = self.get_widget_data()
            view.render(data)

    def _stop(self) -> None:
        """A second show() replaces the first widget's refresher."""
        if self._refresher is not None:
            self._refresher.stop()
            self._refresher = None

    def _wait(self, timeout: float | None = None) -> bool:
        """Waits for the refresher to end (the run ended); True when it has."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout)
            return not refresher.is_alive()
        return True


class _UserRunDetails(RunDetails):
    """The user-run view (v1's _UserRunDetails)."""


class _HyperDriveRunDetails(_UserRunDetails):
    """The HyperDrive view (v1's _HyperDriveRunDetails)."""

    _sweep = True
