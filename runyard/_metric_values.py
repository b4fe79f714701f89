"""Checks metric values before anything is stored. Light: imported by job processes."""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Mapping
from typing import Any

from runyard._entities import MetricKind
from runyard.exceptions import UserErrorException

_ACCEPTED = "a number (int or float, NaN and inf included), a str or a bool"


# The store's metric_series.name column; v1's service refuses longer names too.
MAX_METRIC_NAME_LENGTH = 255
# C0 and C1 control characters (tab, newline, NUL, DEL ...): they break log lines, the
# CLI's tables and shell copy-paste of a metric name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_metric_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise UserErrorException(
            f"Metric name {name!r} is not allowed: it must be a non-empty str, "
            "for example run.log('accuracy', 0.91)."
        )
    if len(name) > MAX_METRIC_NAME_LENGTH:
        raise UserErrorException(
            f"Metric name {name[:40]!r}... is {len(name)} characters long; metric names "
            f"are at most {MAX_METRIC_NAME_LENGTH}. Use a shorter name and put the details "
            "in description=."
        )
    bad = _CONTROL.search(name)
    if bad is not None:
        raise UserErrorException(
            f"Metric name {name!r} contains the control character {bad.group()!r} at "
            f"position {bad.start()}; metric names must be printable. Remove it (for "
            "example name.strip() for a trailing newline)."
        )
    return name


def check_scalar(name: str, value: Any, *, method: str = "log") -> float | int | bool | str:
    """Returns the value as a plain Python scalar (numpy scalars are unwrapped)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value
    # numpy and other numeric scalars: keep ints as ints, everything else as float.
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return check_scalar(name, value.item(), method=method)
    if isinstance(value, list | tuple | range | set) or hasattr(value, "__next__"):
        raise UserErrorException(_nested_message(name, value, method))
    raise UserErrorException(
        f"run.{method}({name!r}, ...) got a value of type {type(value).__name__} "
        f"({value!r:.80}); a metric value must be {_ACCEPTED}."
    )


def _nested_message(name: str, value: Any, method: str) -> str:
    kind = type(value).__name__
    if method == "log_list":
        return (
            f"run.log_list({name!r}, ...) got a nested {kind} ({value!r:.80}) among its "
            f"values; log_list takes a flat list of {_ACCEPTED}. Flatten it, log each inner "
            f"list under its own name, or log rows with run.log_table({name!r}, "
            "{'column': [...]})."
        )
    if method == "log":
        return (
            f"run.log({name!r}, ...) got a {kind}; run.log takes one value. Use "
            f"run.log_list({name!r}, values) to log a list."
        )
    return (
        f"run.{method}({name!r}, ...) got a {kind} ({value!r:.80}); a table cell holds one "
        f"value, {_ACCEPTED}. Log each item as its own row."
    )


# v1's JSON metrics: the log method, its metric kind and the schema_type v1 documents.
JSON_METRICS = {
    "log_confusion_matrix": MetricKind.CONFUSION_MATRIX,
    "log_accuracy_table": MetricKind.ACCURACY_TABLE,
    "log_residuals": MetricKind.RESIDUALS,
    "log_predictions": MetricKind.PREDICTIONS,
}
JSON_KINDS = frozenset(kind.value for kind in JSON_METRICS.values())


def check_json_metric(name: str, value: Any, *, method: str) -> dict[str, Any]:
    """The JSON object for log_confusion_matrix & co: a dict, or a str holding one (as v1).

    Arrays (numpy) inside are turned into lists; a ``schema_type`` must match the method."""
    kind = JSON_METRICS[method].value
    example = f'{{"schema_type": "{kind}", "schema_version": "1.0.0", "data": {{...}}}}'
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UserErrorException(
                f"run.{method}({name!r}, ...) got a str that is not valid JSON ({exc}); pass "
                f"a dict or a JSON object string such as {example}."
            ) from None
    if not isinstance(value, Mapping):
        raise UserErrorException(
            f"run.{method}({name!r}, ...) got a {type(value).__name__}; it takes a JSON "
            f"object (a dict, or a str holding one) such as {example}."
        )
    try:
        checked = json.loads(json.dumps(value, default=_plain))
    except (TypeError, ValueError) as exc:
        raise UserErrorException(
            f"run.{method}({name!r}, ...): the value cannot be stored as JSON ({exc}); use "
            "str keys and numbers, str, bool, None, lists and dicts (numpy arrays are "
            "turned into lists)."
        ) from None
    schema_type = checked.get("schema_type")
    if schema_type is not None and schema_type != kind:
        raise UserErrorException(
            f"run.{method}({name!r}, ...) got schema_type {schema_type!r}; {method} logs "
            f"{kind!r}. Use the log method for {schema_type!r}, or set schema_type to {kind!r}."
        )
    return dict(checked)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
