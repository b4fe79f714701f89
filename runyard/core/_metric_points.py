"""Metric points built from v1's log_* arguments, checked before anything is stored.

Shared by the driver-side Run (which writes them to the store) and the job side's
_SubmittedRun (which writes them to the spool). Light: no SQLAlchemy.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard._artifact_names import check_artifact_name
from runyard._entities import MetricKind, MetricPoint
from runyard._metric_values import JSON_METRICS, check_json_metric, check_metric_name, check_scalar
from runyard.exceptions import UserErrorException


def scalar_point(
    name: str, value: Any, description: str = "", step: int | None = None
) -> MetricPoint:
    check_metric_name(name)
    checked = check_scalar(name, value, method="log")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise UserErrorException(f"run.log({name!r}, ..., step={step!r}): step must be an int.")
    return MetricPoint(name, MetricKind.SCALAR, checked, time.time(), step, description)


def list_points(name: str, value: Any, description: str = "") -> list[MetricPoint]:
    check_metric_name(name)
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        raise UserErrorException(
            f"run.log_list({name!r}, ...) got a {type(value).__name__}; it takes a list of "
            f"values. Use run.log({name!r}, value) for one value."
        )
    values = [check_scalar(name, v, method="log_list") for v in value]
    now = time.time()
    return [MetricPoint(name, MetricKind.LIST, v, now, None, description) for v in values]


def json_point(name: str, value: Any, description: str, method: str) -> MetricPoint:
    """log_confusion_matrix, log_accuracy_table, log_residuals, log_predictions."""
    check_metric_name(name)
    checked = check_json_metric(name, value, method=method)
    return MetricPoint(name, JSON_METRICS[method], checked, time.time(), None, description)


def row_point(name: str, row: Mapping[str, Any], description: str, method: str) -> MetricPoint:
    check_metric_name(name)
    if not row:
        raise UserErrorException(
            f"run.{method}({name!r}) got no columns; pass them as keywords, e.g. "
            f"run.log_row({name!r}, epoch=1, loss=0.3)."
        )
    checked = {str(col): check_scalar(f"{name}.{col}", v, method=method) for col, v in row.items()}
    return MetricPoint(name, MetricKind.TABLE, checked, time.time(), None, description)


def table_points(name: str, value: Any, description: str = "") -> list[MetricPoint]:
    check_metric_name(name)
    if not isinstance(value, Mapping) or not value:
        raise UserErrorException(
            f"run.log_table({name!r}, ...) takes a non-empty dict of column -> list of values, "
            f"got {type(value).__name__}."
        )
    columns = {}
    for col, vals in value.items():
        if isinstance(vals, str | bytes) or not hasattr(vals, "__iter__"):
            raise UserErrorException(
                f"run.log_table({name!r}, ...): column {col!r} must be a list of values, got "
                f"{type(vals).__name__}."
            )
        columns[str(col)] = list(vals)
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        sizes = {c: len(v) for c, v in columns.items()}
        raise UserErrorException(
            f"run.log_table({name!r}, ...): columns have different lengths {sizes}; every "
            "column must hold one value per row."
        )
    rows = [{c: v[i] for c, v in columns.items()} for i in range(lengths.pop())]
    return [row_point(name, row, description, "log_table") for row in rows]


def image_artifact(name: str, path: Any, plot: Any) -> tuple[str, bytes]:
    """(artifact name, png bytes) for log_image; checks everything before any upload."""
    if (path is None) == (plot is None):
        raise UserErrorException(
            f"run.log_image({name!r}, ...) needs exactly one of path= (a png file) or plot= "
            "(a matplotlib figure or pyplot)."
        )
    artifact = check_artifact_name(name if Path(name).suffix else f"{name}.png")
    if plot is not None:
        if not hasattr(plot, "savefig"):
            raise UserErrorException(
                f"run.log_image({name!r}, plot=...) got a {type(plot).__name__}; pass a "
                "matplotlib Figure or the pyplot module."
            )
        buffer = io.BytesIO()
        plot.savefig(buffer, format="png")
        return artifact, buffer.getvalue()
    src = Path(path)
    if not src.is_file():
        raise UserErrorException(
            f"run.log_image({name!r}, path={str(path)!r}): no such file; pass an existing png."
        )
    if not Path(name).suffix:
        artifact = check_artifact_name(f"{name}{src.suffix or '.png'}")
    return artifact, src.read_bytes()
