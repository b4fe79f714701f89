"""The widget's sections as HTML, drawn from the widget data (v1's get_widget_data dict).

Used by the ipywidgets view (one ``HTML`` widget per section) and, whole, as the static
snapshot that front ends without widgets show. Every text from the run is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from runyard.widgets import _charts
from runyard.widgets._widget_data import numeric_series

_MAX_VALUE = 200  # characters of a property, tag or argument shown in the status table
_MAX_CHILDREN = 200  # rows of the children table
_STATUS_COLORS = {"Completed": "#2ca02c", "Failed": "#d62728", "Canceled": "#7f7f7f",
                  "CancelRequested": "#7f7f7f", "Running": "#1f77b4"}  # fmt: skip
_SWEEP_CONFIG_TAGS = ("generator_config", "primary_metric_config", "policy_config",
                      "max_total_jobs", "max_concurrent_jobs", "max_duration_minutes")  # fmt: skip
_LOG_LINES = 30  # shown unfolded
_PRE = 'style="margin: 2px 0; white-space: pre-wrap; font-size: 11px; line-height: 1.3"'
_HEADING = 'style="font-weight: bold; margin: 10px 0 2px 0"'
_TABLE = 'style="border-collapse: collapse; font-size: 12px; line-height: 1.4; margin: 4px 0"'
_CELL = 'style="border-bottom: 1px solid rgba(127,127,127,0.3); padding: 2px 8px; text-align: left"'


def _short(value: Any, limit: int = _MAX_VALUE) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time(value: str | None) -> str:
    """'2026-11-01T12:00:00.123+00:00' as '2026-11-01 12:00:00 UTC'."""
    if not value:
        return ""
    return value[:19].replace("T", " ") + (" UTC" if value.endswith("+00:00") else "")


def status_badge(status: str) -> str:
    colour = _STATUS_COLORS.get(status, "#ff7f0e")
    return (
        f'<span class="runyard-status" data-status="{escape(status)}" style="color: white; '
        f'background: {colour}; border-radius: 3px; padding: 0 6px">{escape(status)}</span>'
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str) -> str:
    head = "".join(f"<th {_CELL}>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<table class="{css_class}" {_TABLE}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def status_table(data: Mapping[str, Any], *, sweep: bool) -> str:
    """Run id, status, times, target, script and arguments, the run's page, properties and
    tags (a sweep: its primary metric, best child and parameter space instead of its
    configuration tags)."""
    props = data["run_properties"]
    rows: list[tuple[str, str]] = [
        ("Run Id", escape(data["run_id"])),
        ("Status", status_badge(data["status"])),
        ("Run Number", escape(str(props.get("run_number", "")))),
    ]
    queued = (props.get("run_queued_details") or {}).get("details")
    if queued:
        rows.append(("Waiting", escape(_short(queued))))
    rows += [
        ("Target", escape(props.get("target") or "")),
        ("Created", escape(_time(props.get("created_utc")))),
        ("Started", escape(_time(props.get("start_time_utc")))),
        ("Ended", escape(_time(props.get("end_time_utc")))),
        ("Duration", escape(props.get("run_duration") or "")),
    ]
    for label, key in (("Script", "script_name"), ("Arguments", "arguments")):
        if props.get(key):
            rows.append((label, f"<code>{escape(_short(props[key]))}</code>"))
    uri = data.get("workbench_run_details_uri")
    if uri:
        rows.append(("Web View", f'<a href="{escape(uri)}" target="_blank">{escape(uri)}</a>'))
    if sweep:
        rows += _sweep_rows(data)
    for key, value in sorted((props.get("properties") or {}).items()):
        if not key.startswith("_aml_system") and not (sweep and key == "primary_metric_config"):
            rows.append((f"Property {escape(key)}", escape(_short(value))))
    for key, value in sorted((props.get("tags") or {}).items()):
        if key.startswith("_aml_system") or (sweep and key in _SWEEP_CONFIG_TAGS):
            continue
        shown = "" if value is None else _short(value)
        rows.append((f"Tag {escape(key)}", escape(shown)))
    body = "".join(f"<tr><th {_CELL}>{k}</th><td {_CELL}>{v}</td></tr>" for k, v in rows)
    return f'<table class="runyard-run-properties" {_TABLE}>{body}</table>'


def _sweep_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    props = data["run_properties"]
    primary = props.get("primary_metric") or {}
    rows = []
    if primary:
        rows.append(("Primary Metric", f"{escape(primary['name'])} ({escape(primary['goal'])})"))
        best = _best_child(data["child_runs"], primary["goal"])
        if best is not None:
            rows.append(
                ("Best Run", f"{escape(best['run_id'])} ({escape(primary['name'])} "
                 f"{_charts.fmt(best['best_metric'])})")
            )  # fmt: skip
    for name, expression in sorted((props.get("hyper_parameters") or {}).items()):
        shown = escape(_short(expression_text(expression)))
        rows.append((f"Parameter {escape(name)}", f"<code>{shown}</code>"))
    return rows


def expression_text(expression: Any) -> str:
    """v1's parameter expression list as it is written: ``["choice", [[1, 2]]]`` is
    ``choice(1, 2)``, ``["uniform", [0, 1]]`` is ``uniform(0, 1)``."""
    if not (
        isinstance(expression, list) and len(expression) == 2 and isinstance(expression[1], list)
    ):
        return _short(expression)
    name, args = expression
    if name == "choice" and len(args) == 1 and isinstance(args[0], list):
        args = args[0]
    return f"{name}({', '.join(json.dumps(a) for a in args)})"


def _best_child(children: Sequence[Mapping[str, Any]], goal: str) -> Mapping[str, Any] | None:
    scored = [c for c in children if _charts.is_number(c.get("best_metric"))]
    if not scored:
        return None
    pick = max if goal == "maximize" else min
    return pick(scored, key=lambda c: c["best_metric"])


# ---- metrics -------------------------------------------------------------------------------
def _metric_value(row: Mapping[str, Any]) -> str:
    values = row["series"][0]["data"]
    if "image" in row:
        return f'<img src="{row["image"]}" alt="{escape(row["name"])}" style="max-height: 48px">'
    if len(values) == 1 and isinstance(values[0], dict):
        value = values[0]
        columns = list(value)
        lengths = {len(v) for v in value.values() if isinstance(v, list)}
        count = max(lengths) if lengths else 1
        return escape(f"table: {count} row(s), columns {', '.join(columns)}"[:_MAX_VALUE])
    last = values[-1] if values else None
    shown = _charts.fmt(last) if _charts.is_number(last) else _short(last, 80)
    if len(values) > 1:
        return escape(f"{shown} (last of {len(values)})")
    return escape(shown)


def metrics_section(run_metrics: Sequence[Mapping[str, Any]]) -> str:
    """A table of every metric (a value, the last of a series, a table's shape, an image)
    and a line chart for each metric logged more than once with numbers."""
    if not run_metrics:
        empty = "<em>No metrics logged yet.</em>"
        return f'<div class="runyard-metrics">{heading("Metrics")}{empty}</div>'
    rows = [(escape(r["name"]), _metric_value(r)) for r in run_metrics]
    table = _table(["Metric", "Value"], rows, "runyard-metrics-table")
    charts = []
    for row in run_metrics:
        values = numeric_series(row["series"][0]["data"])
        if values is not None and len(values) > 1 and "image" not in row:
            series = _charts.Series(row["name"], list(enumerate(values)))
            charts.append(_charts.line_chart(row["name"], [series], x_label="logged value #"))
    images = [
        f'<figure style="display: inline-block; margin: 4px"><img src="{r["image"]}" '
        f'alt="{escape(r["name"])}" style="max-width: 320px"><figcaption>{escape(r["name"])}'
        "</figcaption></figure>"
        for r in run_metrics
        if "image" in r
    ]
    parts = [heading("Metrics"), table, *charts, *images]
    return f'<div class="runyard-metrics">{"".join(parts)}</div>'


# ---- children ------------------------------------------------------------------------------
def param_names(children: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for child in children:
        names.update((k[len("param_") :], None) for k in child if k.startswith("param_"))
    return list(names)


def sort_children(
    children: Sequence[Mapping[str, Any]], key: str, goal: str | None
) -> list[Mapping[str, Any]]:
    """By 'run_number', 'status', 'best_metric' (best first, by the goal; no metric last)
    or a hyperparameter's name (its 'param_<name>' column)."""
    if key == "best_metric":
        scored = [c for c in children if _charts.is_number(c.get("best_metric"))]
        scored.sort(key=lambda c: float(c["best_metric"]), reverse=goal != "minimize")
        return scored + [c for c in children if c not in scored]
    column = key if key in ("run_number", "status") else f"param_{key}"

    def order(child: Mapping[str, Any]) -> tuple[int, float, str]:
        value = child.get(column)
        if _charts.is_number(value):
            return (0, float(value), "")
        return (1 if value is not None else 2, 0.0, str(value))

    return sorted(children, key=order)


def children_table(
    children: Sequence[Mapping[str, Any]],
    *,
    primary: Mapping[str, str] | None,
    sort_by: str = "run_number",
) -> str:
    """Run number, id, status, start and duration of each child; its hyperparameters and
    the best and last value of the primary metric when there are some."""
    if not children:
        return '<div class="runyard-children"><em>No child runs.</em></div>'
    params = param_names(children)
    goal = primary.get("goal") if primary else None
    header = ["Run", "Run Id", "Status", "Started", "Duration", *map(escape, params)]
    if primary:
        header += [f"Best {escape(primary['name'])}", f"Last {escape(primary['name'])}"]
    rows = []
    for child in sort_children(children, sort_by, goal)[:_MAX_CHILDREN]:
        row = [
            escape(str(child["run_number"])),
            escape(child["run_id"]),
            status_badge(child["status"]),
            escape(_time(child.get("start_time"))),
            escape(child.get("duration") or ""),
            *(escape(_short(child.get(f"param_{p}", ""), 40)) for p in params),
        ]
        if primary:
            row += [_number(child.get("best_metric")), _number(child.get("metric"))]
        rows.append(row)
    more = len(children) - _MAX_CHILDREN
    note = f"<div><em>… and {more} more child runs</em></div>" if more > 0 else ""
    table = _table(header, rows, "runyard-children-table")
    return f'<div class="runyard-children">{table}{note}</div>'


def _number(value: Any) -> str:
    return escape(_charts.fmt(float(value))) if _charts.is_number(value) else ""


def sweep_charts(data: Mapping[str, Any]) -> str:
    """The primary metric of every child on one chart (by logged value, or by run number
    when each child logged it once), and the hyperparameters against the best value."""
    primary = data["run_properties"].get("primary_metric") or {}
    series_by_metric = (data.get("children_metrics") or {}).get("series") or {}
    name = primary.get("name")
    if not name or name not in series_by_metric:
        return (
            f'<div class="runyard-sweep-charts">{heading("Primary metric")}<em>No child has '
            f"logged the primary metric {escape(name or '')} yet.</em></div>"
        )
    series = series_by_metric[name]
    if series and series[0].get("type") == "scatter":
        values, best = series[0], series[1]
        chart = _charts.line_chart(
            name,
            [_charts.Series(name, list(zip(values["categories"], values["data"], strict=True)),
                            markers=True),
             _charts.Series(best["name"], list(zip(best["categories"], best["data"], strict=True)),
                            stepped=True, color="#7f7f7f")],
            x_label="run number",
        )  # fmt: skip
    else:
        chart = _charts.line_chart(
            name,
            [_charts.Series(f"Run {s['run_id']}", list(enumerate(s["data"]))) for s in series],
            x_label="logged value #",
        )
    children = data["child_runs"]
    params = param_names(children)
    rows = [
        (f"Run {c['run_number']}", [*(c.get(f"param_{p}") for p in params), c.get("best_metric")])
        for c in children
    ]
    parallel = _charts.parallel_coordinates(
        f"Hyperparameters and best {name}", [*params, name], rows, primary["goal"]
    )
    return f'<div class="runyard-sweep-charts">{heading("Primary metric")}{chart}{parallel}</div>'


# ---- logs ----------------------------------------------------------------------------------
def log_view(name: str | None, text: str) -> str:
    """The log's last lines, and the lines before them (of the tail read) folded away.

    No scrolling box: a front end may lay one out with its scroll position at the top
    (JupyterLab does, even with ``flex-direction: column-reverse``), hiding the lines that
    matter, and the widget has no script to scroll it.
    """
    title = escape(name or "no log yet")
    lines = text.split("\n")
    earlier, recent = lines[:-_LOG_LINES], lines[-_LOG_LINES:]
    folded = ""
    if earlier:
        folded = (
            f'<details><summary style="font-size: 11px; cursor: pointer">{len(earlier)} '
            f"earlier lines</summary><pre {_PRE}>{escape(chr(10).join(earlier))}</pre></details>"
        )
    return (
        f'<div class="runyard-log" data-log="{escape(name or "")}" style="line-height: 1.3">'
        f'<div style="font-size: 11px; opacity: 0.8">{title}</div><div style="border: 1px '
        f'solid rgba(127,127,127,0.3); padding: 0 4px">{folded}<pre {_PRE}>'
        f"{escape(chr(10).join(recent))}</pre></div></div>"
    )


def heading(text: str) -> str:
    return f'<div class="runyard-heading" {_HEADING}>{escape(text)}</div>'


def page(data: Mapping[str, Any], *, sweep: bool, sort_by: str = "run_number") -> str:
    """Every section, one after another: the snapshot for front ends without widgets."""
    primary = data["run_properties"].get("primary_metric")
    parts = [
        f"<h4>{'HyperDrive run' if sweep else 'Run'} {escape(data['run_id'])}</h4>",
        status_table(data, sweep=sweep),
    ]
    if sweep:
        parts += [heading("Child runs"),
                  children_table(data["child_runs"], primary=primary, sort_by=sort_by),
                  sweep_charts(data)]  # fmt: skip
    else:
        parts += [metrics_section(data["run_metrics"]), heading("Child runs"),
                  children_table(data["child_runs"], primary=primary, sort_by=sort_by)]  # fmt: skip
    parts += [heading("Log"), log_view(data["run_properties"].get("log_name"), data["run_logs"])]
    return f'<div class="runyard-run-details">{"".join(parts)}</div>'
