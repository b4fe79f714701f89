"""HyperDrive's parameter expressions (v1's ``azureml.train.hyperdrive.parameter_expressions``).

Each returns v1's JSON form, a list ``[name, [args]]``, which is what a sampling's
``parameter_space`` holds and what the agent's sweep engine reads. The checks and their
messages are v1's ("<function> expects <condition>"), followed by how to fix the call.
"""

from __future__ import annotations

from typing import Any

from runyard.exceptions import HyperDriveConfigException

__all__ = [
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]


def _refuse(obj: str, condition: str, fix: str) -> HyperDriveConfigException:
    return HyperDriveConfigException(f"{obj} expects {condition} {fix}".rstrip())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(obj: str, **values: Any) -> None:
    for name, value in values.items():
        if not _is_number(value):
            raise _refuse(
                obj, f"{name} to be a float", f"(got {value!r}); pass a number, e.g. {obj}(0, 1)."
            )


def _q(obj: str, q: Any) -> None:
    if not (
        (isinstance(q, int) and not isinstance(q, bool))
        or (isinstance(q, float) and q.is_integer())
    ):
        raise _refuse(obj, "q to be an int", f"(got {q!r}); pass a whole number such as 1 or 16.")
    if q <= 0:
        raise _refuse(obj, "q to be a positive int", f"(got {q!r}).")


def _sigma(obj: str, sigma: float) -> None:
    if sigma < 0:
        raise _refuse(obj, "sigma to be non negative", f"(got {sigma!r}).")


def choice(*options: Any) -> list[Any]:
    """One of the options: ``choice(1, 2, 3)``, ``choice([1, 2, 3])`` or ``choice(range(1, 4))``."""
    if not options:
        raise HyperDriveConfigException(
            "Please specify an input for choice. Give the options, e.g. choice(16, 32, 64), "
            "choice([16, 32, 64]) or choice(range(1, 10))."
        )
    condition = (
        "non-empty single list, non-empty single range() or a positive number of arbitrary "
        "comma separated inputs."
    )
    for item in options:
        if isinstance(item, range | list):
            if len(options) > 1 or not item:
                raise _refuse(
                    "choice", condition, "Pass choice([1, 2]) or choice(1, 2), not both forms."
                )
            return ["choice", [list(item)]]
    return ["choice", [list(options)]]


def randint(upper: int) -> list[Any]:
    """An integer in ``[0, upper)``."""
    if not isinstance(upper, int) or isinstance(upper, bool) or upper <= 0:
        raise _refuse(
            "randint", "a positive number as input", f"(got {upper!r}), e.g. randint(10)."
        )
    return ["randint", [upper]]


def _range(obj: str, low: Any, high: Any, strict: bool) -> None:
    _numbers(obj, min_value=low, max_value=high)
    if low > high or (strict and low == high):
        relation = "<" if strict else "<="
        raise _refuse(
            obj, f"min_value {relation} max_value", f"(got {low!r} and {high!r}); swap them."
        )


def uniform(min_value: float, max_value: float) -> list[Any]:
    """A float drawn uniformly between min_value and max_value."""
    _range("uniform", min_value, max_value, strict=True)
    return ["uniform", [min_value, max_value]]


def quniform(min_value: float, max_value: float, q: int) -> list[Any]:
    """``round(uniform(min_value, max_value) / q) * q``."""
    _numbers("quniform", min_value=min_value, max_value=max_value)
    _q("quniform", q)
    _range("quniform", min_value, max_value, strict=True)
    return ["quniform", [min_value, max_value, q]]


def loguniform(min_value: float, max_value: float) -> list[Any]:
    """``exp(uniform(min_value, max_value))``: the bounds are exponents."""
    _range("loguniform", min_value, max_value, strict=False)
    return ["loguniform", [min_value, max_value]]


def qloguniform(min_value: float, max_value: float, q: int) -> list[Any]:
    """``round(exp(uniform(min_value, max_value)) / q) * q``."""
    _numbers("qloguniform", min_value=min_value, max_value=max_value)
    _q("qloguniform", q)
    _range("qloguniform", min_value, max_value, strict=False)
    return ["qloguniform", [min_value, max_value, q]]


def normal(mu: float, sigma: float) -> list[Any]:
    """A float drawn from a normal distribution of mean mu and deviation sigma."""
    _numbers("normal", mu=mu, sigma=sigma)
    _sigma("normal", sigma)
    return ["normal", [mu, sigma]]


def qnormal(mu: float, sigma: float, q: int) -> list[Any]:
    """``round(normal(mu, sigma) / q) * q``."""
    _numbers("qnormal", mu=mu, sigma=sigma)
    _q("qnormal", q)
    _sigma("qnormal", sigma)
    return ["qnormal", [mu, sigma, q]]


def lognormal(mu: float, sigma: float) -> list[Any]:
    """``exp(normal(mu, sigma))``."""
    _numbers("lognormal", mu=mu, sigma=sigma)
    _sigma("lognormal", sigma)
    return ["lognormal", [mu, sigma]]


def qlognormal(mu: float, sigma: float, q: int) -> list[Any]:
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    _numbers("qlognormal", mu=mu, sigma=sigma)
    _q("qlognormal", q)
    _sigma("qlognormal", sigma)
    return ["qlognormal", [mu, sigma, q]]
