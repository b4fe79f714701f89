"""The Jupyter view: ipywidgets 8, one ``HTML`` widget per section (charts are inline SVG),
whose values a background thread updates while the kernel stays free.

ipywidgets and IPython are imported only here, inside functions: ``import runyard`` and
``import azureml.widgets`` must not pay for them, and a job never needs them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from html import escape
from typing import Any

from runyard.widgets import _views
from runyard.widgets._summary import summary


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, VS Code, ...): an IPython shell
    with a kernel behind it, not a terminal IPython."""
    ipython = sys.modules.get("IPython")  # not imported: certainly no kernel
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def ipywidgets_available() -> bool:
    if "ipywidgets" in sys.modules:
        return sys.modules["ipywidgets"] is not None  # None: importing it is blocked
    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def _box_class() -> type:
    import ipywidgets  # type: ignore[import-untyped]

    class RunDetailsBox(ipywidgets.VBox):  # type: ignore[misc]
        """The widget. Front ends that draw no widgets (nbconvert, a notebook viewer) show
        its text/plain summary or its text/html snapshot, as of the last refresh."""

        def __init__(self, fallback: Callable[[], tuple[str, str]], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._fallback = fallback

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
            bundle["text/plain"], bundle["text/html"] = self._fallback()
            return bundle

    return RunDetailsBox


class JupyterView:
    """The widgets of one RunDetails and how data becomes their values."""

    def __init__(
        self, data: Mapping[str, Any], *, sweep: bool, on_log_selected: Callable[[str], None]
    ) -> None:
        import ipywidgets  # type: ignore[import-untyped]

        self.sweep = sweep
        self._data = data
        self._lock = threading.RLock()
        self._quiet = False  # our own changes to the dropdowns are no user's choice
        self._on_log_selected = on_log_selected
        self.header = ipywidgets.HTML()
        self.error = ipywidgets.HTML()
        self.metrics = ipywidgets.HTML()
        self.children = ipywidgets.HTML()
        self.charts = ipywidgets.HTML()
        self.sort = ipywidgets.Dropdown(
            description="Sort by", options=[("Run number", "run_number")]
        )
        self.log_choice = ipywidgets.Dropdown(
            description="Show", options=[], layout={"width": "380px"}
        )
        self.log = ipywidgets.HTML()
        self.sort.observe(self._sorted, names="value")
        self.log_choice.observe(self._log_chosen, names="value")
        children_title = ipywidgets.HBox([ipywidgets.HTML(_views.heading("Child runs")), self.sort])
        log_title = ipywidgets.HBox([ipywidgets.HTML(_views.heading("Log")), self.log_choice])
        sections = [self.header, self.error]
        if sweep:
            sections += [children_title, self.children, self.charts]
        else:
            sections += [self.metrics, children_title, self.children]
        sections += [log_title, self.log]
        self.box = _box_class()(self._fallback, children=sections)
        self.render(data)

    def _fallback(self) -> tuple[str, str]:
        with self._lock:
            data = self._data
        return summary(data, sweep=self.sweep), _views.page(data, sweep=self.sweep)

    @contextlib.contextmanager
    def _ours(self) -> Iterator[None]:
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def closed(self) -> bool:
        """The user (or the front end) closed the widget: nothing left to update."""
        return self.box.comm is None

    def render(self, data: Mapping[str, Any]) -> None:
        """New values for every section (ipywidgets sends only those that changed)."""
        with self._lock:
            self._data = data
            primary = data["run_properties"].get("primary_metric")
            self.header.value = _views.status_table(data, sweep=self.sweep)
            self.error.value = ""
            self._sort_options(data, primary)
            self.children.value = _views.children_table(
                data["child_runs"], primary=primary, sort_by=self.sort.value
            )
            if self.sweep:
                self.charts.value = _views.sweep_charts(data)
            else:
                self.metrics.value = _views.metrics_section(data["run_metrics"])
            self._log_options(data)
            self.log.value = _views.log_view(
                data["run_properties"].get("log_name"), data["run_logs"]
            )

    def _sort_options(self, data: Mapping[str, Any], primary: Mapping[str, str] | None) -> None:
        options = [("Run number", "run_number"), ("Status", "status")]
        if primary:
            options.insert(0, (f"Best {primary['name']}", "best_metric"))
        options += [(name, name) for name in _views.param_names(data["child_runs"])]
        if list(self.sort.options) != options:
            current = self.sort.value
            with self._ours():
                self.sort.options = options
                values = [v for _, v in options]
                self.sort.value = current if current in values else values[0]
        self.sort.layout.display = None if data["child_runs"] else "none"

    def _log_options(self, data: Mapping[str, Any]) -> None:
        names = [n for group in data["run_properties"].get("log_groups") or [] for n in group]
        chosen = data["run_properties"].get("log_name")
        with self._ours():
            if list(self.log_choice.options) != names:
                self.log_choice.options = names
            if chosen in names and self.log_choice.value != chosen:
                self.log_choice.value = chosen
        self.log_choice.layout.display = None if len(names) > 1 else "none"

    def _sorted(self, change: Mapping[str, Any]) -> None:
        if self._quiet:
            return
        with self._lock:
            data = self._data
            self.children.value = _views.children_table(
                data["child_runs"],
                primary=data["run_properties"].get("primary_metric"),
                sort_by=change["new"],
            )

    def _log_chosen(self, change: Mapping[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self._on_log_selected(change["new"])

    def show_log(self, name: str, text: str) -> None:
        with self._lock:
            self.log.value = _views.log_view(name, text)

    def show_error(self, exc: BaseException, giving_up: bool) -> None:
        then = (
            "Stopped refreshing; call RunDetails(run).show() again to restart."
            if giving_up
            else "Trying again at the next refresh."
        )
        self.error.value = (
            '<div class="runyard-error" style="color: #d62728">Reading the run failed: '
            f"{escape(str(exc))}. {then}</div>"
        )


def display(widget: Any) -> None:
    from IPython.display import display as ipython_display

    ipython_display(widget)
