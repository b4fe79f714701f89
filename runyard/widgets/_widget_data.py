"""The data behind RunDetails: v1's ``get_widget_data()`` dict, read through the services.

Keys follow v1's widget (``status``, ``workbench_run_details_uri``, ``run_id``,
``run_properties``, ``child_runs``, ``children_metrics``, ``run_metrics``, ``run_logs``,
``graph``, ``widget_settings``), and so do the shapes inside them (v1's transformer), so code
that reads them keeps working; Runyard adds a few keys (``run_properties['start_time_utc']``,
``['target']``, ``['primary_metric']``, ``['log_name']``; ``run_metrics[i]['image']``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._entities import RunInfo
from runyard._services import metrics, run_details, run_files, runs, sweeps
from runyard.widgets._charts import is_number

if TYPE_CHECKING:
    from runyard._services import Services
    from runyard.core.run import Run

LOG_TAIL_BYTES = 64 * 1024  # the log viewer shows the end of a log, never the whole of it
FINISHED = ("completed", "failed", "canceled")  # v1's _run_finished_states
WAITING_LOG = "Waiting for the run's logs..."  # v1's _str_waiting_log
NO_LOG = "Log is empty or no log files found."  # v1's _str_no_log
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".gif": "image/gif", ".webp": "image/webp"}  # fmt: skip


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def duration(status: str, created: datetime | None, end: datetime | None) -> str | None:
    """v1's run duration: from creation (queue time included) to the end, or to now."""
    if status.lower() == "notresponding" or created is None:
        return None
    seconds = max(((end or datetime.now(timezone.utc)) - created).total_seconds(), 0)
    return str(timedelta(seconds=int(seconds)))


def log_groups(names: Sequence[str]) -> list[list[str]]:
    """v1's log order: by the numbers in each name, grouped by the first number (names
    without one first), so the last group's first log is the newest phase's."""

    def numbers(name: str) -> tuple[int, ...]:
        found, digits = [], ""
        for char in name + " ":
            if char.isdigit():
                digits += char
            elif digits:
                found.append(int(digits))
                digits = ""
        return tuple(found)

    groups: dict[int, list[str]] = {}
    for name in sorted(names, key=numbers):
        ordinal = numbers(name)
        groups.setdefault(ordinal[0] if ordinal else -1, []).append(name)
    return [groups[key] for key in sorted(groups)]


def metric_values(value: Any) -> list[Any]:
    """A metric in v1's get_metrics shape as the list of its logged values."""
    return list(value) if isinstance(value, list) else [value]


def numeric_series(value: Any) -> list[float] | None:
    """The metric's values when every one is a finite number, else None."""
    values = metric_values(value)
    if values and all(is_number(v) for v in values):
        return [float(v) for v in values]
    return None


def child_row(info: RunInfo) -> dict[str, Any]:
    """One child as v1's transformer gives it (``_transform_run``)."""
    status = info.status.value
    return {
        "run_id": info.run_id,
        "run_number": info.number,
        "name": info.display_name or info.run_id,
        "metric": None,
        "status": status,
        "run_type": info.run_type,
        "training_percent": info.properties.get("training_percent"),
        "start_time": iso(info.start_time) or "",
        "end_time": iso(info.end_time) or "",
        "created_time": iso(info.created_time) or "",
        "created_time_dt": info.created_time,
        "duration": duration(status, info.created_time, info.end_time),
    }


def children_metrics(
    metrics_by_number: Mapping[int, Mapping[str, Any]], primary: Mapping[str, str]
) -> dict[str, Any]:
    """v1's transform_widget_metric_data: per metric name, one series per child run
    (``{'run_id': run number, 'name': run number, 'data': [...]}``); when no child logged
    the primary metric more than once, v1's scatter form instead (per metric, the values by
    run number and a stepped line of the best so far)."""
    result: dict[str, Any] = {"categories": None, "series": None, "metricName": None}
    name, goal = primary.get("name"), primary.get("goal")
    if not metrics_by_number or not name or not goal:
        return result
    all_series: dict[str, list[dict[str, Any]]] = {}
    for number, run_metrics in sorted(metrics_by_number.items()):
        for metric_name, value in run_metrics.items():
            data = numeric_series(value)
            if data is None:
                continue
            all_series.setdefault(metric_name, []).append(
                {"run_id": number, "name": number, "data": data, "mode": "lines",
                 "stepped": False}
            )  # fmt: skip
    if name not in all_series:
        return result
    result["series"] = all_series
    result["categories"] = list(range(max(len(s["data"]) for s in all_series[name])))
    result["primaryMetricName"] = name
    result["showLegend"] = True
    if all(len(s["data"]) <= 1 for s in all_series[name]):
        best = max if goal == "maximize" else min
        scatter = {}
        for metric_name, series in all_series.items():
            numbers = [s["name"] for s in series]
            values = [s["data"][0] for s in series]
            running = [best(values[: i + 1]) for i in range(len(values))]
            scatter[metric_name] = [
                {"categories": numbers, "mode": "markers", "name": metric_name,
                 "stepped": False, "type": "scatter", "data": values},
                {"categories": numbers, "mode": "lines", "name": f"{metric_name}_{best.__name__}",
                 "stepped": True, "type": "scatter", "data": running},
            ]  # fmt: skip
        result["series"] = scatter
        result["showLegend"] = False
    return result


class WidgetData:
    """Reads one run's widget data each refresh; keeps what cannot change any more (an
    ended child's metrics, a logged image)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.services: Services = run._services
        self.selected_log: str | None = None
        self._ended_metrics: dict[str, dict[str, Any]] = {}
        self._images: dict[str, str] = {}

    # ---- the whole dict ------------------------------------------------------------------
    def collect(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        run_id = self.run.id
        info = runs.get_run(self.services, run_id)
        details = run_details.get_details(self.services, run_id)
        status = info.status.value
        definition = details.get("runDefinition") or {}
        arguments = definition.get("arguments") or definition.get("Arguments")
        log_files: dict[str, str] = details.get("logFiles") or {}
        groups = log_groups(list(log_files))
        properties: dict[str, Any] = {
            "run_id": run_id,
            "created_utc": iso(info.created_time),
            "properties": dict(info.properties),
            "tags": dict(info.tags),
            "script_name": definition.get("script") or definition.get("Script"),
            "arguments": " ".join(str(a) for a in arguments) if arguments else None,
            "end_time_utc": iso(info.end_time),
            "start_time_utc": iso(info.start_time),
            "status": status,
            "target": info.target,
            "log_files": log_files,
            "log_groups": groups,
            "run_duration": duration(status, info.created_time, info.end_time),
            "run_number": str(info.number),
            "run_queued_details": self.run.get_detailed_status(),
        }
        primary = self.primary_metric(info, settings)
        if primary:
            properties["primary_metric"] = primary
        self.add_properties(info, properties)
        log_name = self.log_name(groups)
        properties["log_name"] = log_name
        children, by_number = self.child_runs(info, primary)
        return {
            "status": status,
            "workbench_run_details_uri": self.run.get_portal_url(),
            "run_id": run_id,
            "run_properties": properties,
            "child_runs": children,
            "children_metrics": children_metrics(by_number, primary),
            "run_metrics": self.run_metrics(run_id),
            "run_logs": self.read_log(log_name, log_files, status, details.get("error")),
            "graph": {},
            "widget_settings": dict(settings),
        }

    def add_properties(self, info: RunInfo, properties: dict[str, Any]) -> None:
        """What a kind of run adds to run_properties (a sweep: its parameter space)."""

    def primary_metric(self, info: RunInfo, settings: Mapping[str, Any]) -> dict[str, str]:
        """v1: a user run's children are charted by ``widget_settings['Metric']``
        (``{'name': ..., 'goal': ...}``, goal 'minimize' by default)."""
        chosen = settings.get("Metric")
        if isinstance(chosen, Mapping) and chosen.get("name"):
            return {"name": str(chosen["name"]), "goal": str(chosen.get("goal", "minimize"))}
        return {}

    # ---- logs ----------------------------------------------------------------------------
    def log_name(self, groups: Sequence[Sequence[str]]) -> str | None:
        names = [n for group in groups for n in group]
        if self.selected_log in names:
            return self.selected_log
        return groups[-1][0] if groups else None

    def read_log(
        self, name: str | None, log_files: Mapping[str, str], status: str, error: Any
    ) -> str:
        """v1's log text: the log's end, then the run's error or 'Run is completed.'."""
        text = ""
        if name is not None and name in log_files:
            text = self._tail(name, log_files[name])
            if text and not text.endswith("\n"):
                text += "\n"
        end = None
        if isinstance(error, Mapping) and error.get("error"):
            end = f"Error occurred: {error['error'].get('message') or ''}\n"
        elif status.lower() in ("completed", "canceled"):
            end = f"Run is {status.lower()}."
        if end is not None:
            return f"{text}\n{end}" if text else end
        return text or (NO_LOG if status.lower() in FINISHED else WAITING_LOG)

    def _tail(self, name: str, location: str) -> str:
        path = Path(location)
        if path.is_absolute():
            try:
                with open(path, "rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(max(0, size - LOG_TAIL_BYTES))
                    data = f.read()
            except FileNotFoundError:  # listed a moment ago; gone now (the run's files moved)
                return ""
        else:  # a remote artifact store: the file as the store gives it
            data = run_files.read_file(self.services, self.run.id, name)[-LOG_TAIL_BYTES:]
        text = data.decode("utf-8", errors="replace")
        if len(data) == LOG_TAIL_BYTES and "\n" in text:
            text = "…\n" + text.split("\n", 1)[1]  # start on a whole line
        return text

    # ---- metrics -------------------------------------------------------------------------
    def run_metrics(self, run_id: str) -> list[dict[str, Any]]:
        """v1's run_metrics: ``{'name', 'run_id', 'categories', 'series': [{'data'}]}`` per
        metric; an image metric also gets ``image``, its last image as a data URI."""
        found = metrics.get_metrics(self.services, run_id)
        rows = []
        for name, value in found.items():
            values = metric_values(value)
            row: dict[str, Any] = {
                "name": name,
                "run_id": run_id,
                "categories": list(range(len(values))),
                "series": [{"data": values}],
            }
            image = self._image(run_id, values[-1]) if values else None
            if image is not None:
                row["image"] = image
            rows.append(row)
        return rows

    def _image(self, run_id: str, value: Any) -> str | None:
        prefix = metrics.image_location(run_id, "")
        if not isinstance(value, str) or not value.startswith(prefix):
            return None
        if value not in self._images:
            artifact = value[len(prefix) :]
            mime = _IMAGE_TYPES.get(Path(artifact).suffix.lower())
            if mime is None:  # an svg could carry script: not inlined
                return None
            data = run_files.read_file(self.services, run_id, artifact)
            self._images[value] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        return self._images[value]

    # ---- children ------------------------------------------------------------------------
    def child_infos(self, info: RunInfo) -> list[RunInfo]:
        found = runs.list_runs(self.services, parent_run_id=info.run_id)
        return sorted(found, key=lambda c: c.number)

    def child_runs(
        self, info: RunInfo, primary: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
        """The children's rows, and (with a primary metric) their metrics by run number;
        each row gets ``metric`` (the last value of the primary metric) and
        ``best_metric`` (its best value, by the goal)."""
        rows, by_number = [], {}
        for child in self.child_infos(info):
            row = child_row(child)
            row.update(self.child_extras(info, child))
            if primary:
                found = self.child_metrics(child)
                by_number[child.number] = found
                values = numeric_series(found.get(primary["name"], []))
                if values:
                    row["metric"] = values[-1]
                    row["best_metric"] = sweeps.best_of(values, primary["goal"])
            rows.append(row)
        return rows, by_number

    def child_extras(self, parent: RunInfo, child: RunInfo) -> dict[str, Any]:
        """What a kind of run adds to each child's row (a sweep: its hyperparameters)."""
        return {}

    def child_metrics(self, child: RunInfo) -> dict[str, Any]:
        """A child's metrics (v1's shapes); read once more after it ended, then kept."""
        cached = self._ended_metrics.get(child.run_id)
        if cached is not None:
            return cached
        found = metrics.get_metrics(self.services, child.run_id)
        if child.status.is_terminal():
            self._ended_metrics[child.run_id] = found
        return found


class SweepData(WidgetData):
    """A HyperDrive sweep: its children with their hyperparameters and best primary metric,
    the primary metric of every child, and the sweep log (``azureml-logs/hyperdrive.txt``)."""

    def add_properties(self, info: RunInfo, properties: dict[str, Any]) -> None:
        config = _json_tag(info, "generator_config")
        if isinstance(config, Mapping):
            properties["hyper_parameters"] = config.get("parameter_space") or {}

    def primary_metric(self, info: RunInfo, settings: Mapping[str, Any]) -> dict[str, str]:
        config = info.properties.get("primary_metric_config") or info.tags.get(
            "primary_metric_config"
        )
        try:
            parsed = json.loads(config) if config else {}
        except ValueError:
            parsed = {}
        if not parsed.get("name"):
            return super().primary_metric(info, settings)
        return {"name": str(parsed["name"]), "goal": str(parsed.get("goal", "maximize"))}

    def log_name(self, groups: Sequence[Sequence[str]]) -> str | None:
        names = [n for group in groups for n in group]
        if self.selected_log not in names and sweeps.SWEEP_LOG in names:
            return sweeps.SWEEP_LOG
        return super().log_name(groups)

    def child_infos(self, info: RunInfo) -> list[RunInfo]:
        return sweeps.children(self.services, info.run_id)

    def child_extras(self, parent: RunInfo, child: RunInfo) -> dict[str, Any]:
        extras: dict[str, Any] = {
            "hyperdrive_id": parent.run_id,
            "arguments": child.definition.get("arguments"),
        }
        for name, value in sweeps.hyperparameters(child).items():
            extras[f"param_{name}"] = value
        return extras


def _json_tag(info: RunInfo, name: str) -> Any:
    value = info.tags.get(f"_aml_system_{name}") or info.tags.get(name)
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None
