"""The plain-text RunDetails: what ``show()`` writes where no widget can be drawn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runyard.widgets._charts import fmt, is_number
from runyard.widgets._views import param_names, sort_children

INSTALL_HINT = (
    "RunDetails draws a live widget in Jupyter (JupyterLab 4, Notebook 7, VS Code) with "
    "ipywidgets 8: pip install 'runyard[notebook]'"
)
KERNEL_HINT = (
    "RunDetails(run).show() draws a live widget when called in a Jupyter kernel (JupyterLab "
    "4, Notebook 7, VS Code); get_widget_data() returns the data behind it."
)
_LOG_LINES = 10
_CHILDREN = 10


def _value(value: Any) -> str:
    return fmt(float(value)) if is_number(value) else str(value)


def summary(data: Mapping[str, Any], *, sweep: bool) -> str:
    """A few lines: the run and its status, times, metrics (or, for a sweep, the primary
    metric and the best children), children, and the log's last lines."""
    props = data["run_properties"]
    kind = "HyperDrive run" if sweep else "Run"
    lines = [f"{kind} {data['run_id']}: {data['status']}"]
    when = [f"target {props.get('target')}"]
    if props.get("run_duration"):
        when.append(f"duration {props['run_duration']}")
    when.append(f"web view {data['workbench_run_details_uri']}")
    lines.append("  " + ", ".join(when))
    primary = props.get("primary_metric")
    if not sweep:
        for row in data["run_metrics"]:
            values = row["series"][0]["data"]
            if len(values) > 1:
                lines.append(f"  {row['name']}: {_value(values[-1])} (last of {len(values)})")
            elif values and not isinstance(values[0], dict):
                lines.append(f"  {row['name']}: {_value(values[0])}")
            else:
                lines.append(f"  {row['name']}: table")
    children = data["child_runs"]
    if children:
        goal = primary.get("goal") if primary else None
        order = "best_metric" if sweep and primary else "run_number"
        title = f"best {primary['name']} first" if sweep and primary else "by run number"
        lines.append(f"Child runs ({len(children)}, {title}):")
        params = param_names(children)
        for child in sort_children(children, order, goal)[:_CHILDREN]:
            parts = [f"  {child['run_id']}", child["status"]]
            parts += [f"{p}={_value(child.get(f'param_{p}'))}" for p in params]
            if primary and child.get("best_metric") is not None:
                parts.append(f"{primary['name']}={_value(child['best_metric'])}")
            lines.append("  ".join(parts))
        if len(children) > _CHILDREN:
            lines.append(f"  ... and {len(children) - _CHILDREN} more")
    log = [line for line in data["run_logs"].splitlines() if line.strip()][-_LOG_LINES:]
    if log and props.get("log_name"):
        lines.append(f"{props.get('log_name') or 'Log'} (last lines):")
        lines += [f"  {line}" for line in log]
    return "\n".join(lines) + "\n"
