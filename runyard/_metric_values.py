"""Checks metric values before anything is stored. Light: imported by job processes."""

from __future__ import annotations

import numbers
from typing import Any

from runyard.exceptions import UserErrorException

_ACCEPTED = "a number (int or float, NaN and inf included), a str or a bool"


def check_metric_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise UserErrorException(
            f"Metric name {name!r} is not allowed: it must be a non-empty str, "
            "for example run.log('accuracy', 0.91)."
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
        raise UserErrorException(
            f"run.{method}({name!r}, ...) got a {type(value).__name__}; run.{method} takes "
            f"one value. Use run.log_list({name!r}, values) to log a list."
        )
    raise UserErrorException(
        f"run.{method}({name!r}, ...) got a value of type {type(value).__name__} "
        f"({value!r:.80}); a metric value must be {_ACCEPTED}."
    )
