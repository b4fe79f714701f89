"""HyperDrive's samplings (v1's ``azureml.train.hyperdrive.sampling``).

A sampling is a parameter space (``{argument name: parameter expression}``, the keys exactly
as the script's argparse takes them, e.g. ``"--lr"``) and a method. ``to_json()`` is v1's
``{"name", "parameter_space", "properties"?}``; the agent's sweep engine draws from it (with
Optuna's samplers: the public classes never touch Optuna).

Runyard reads one key of ``properties``: ``seed`` (an int), which makes a sweep repeatable:
the same seed gives the same children's values. Without it a seed is drawn at submit and
kept in the sweep, so a restarted agent still samples the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runyard.exceptions import HyperDriveConfigException, HyperDriveRehydrateException

__all__ = [
    "BayesianParameterSampling",
    "GridParameterSampling",
    "HyperParameterSampling",
    "RandomParameterSampling",
]

_EXPRESSIONS = {"choice", "randint", "uniform", "quniform", "loguniform", "qloguniform"}
_EXPRESSIONS |= {"normal", "qnormal", "lognormal", "qlognormal"}
_Validator = Callable[[list[Any]], "tuple[bool, str | None]"]


class HyperParameterSampling:
    """The base of the samplings: a method name, a parameter space and properties."""

    def __init__(
        self,
        sampling_method_name: str,
        parameter_space: Mapping[str, Any],
        properties: Mapping[str, Any] | None = None,
        supported_distributions: set[str] | None = None,
        distributions_validators: Mapping[str, _Validator] | None = None,
    ) -> None:
        self._sampling_method_name = sampling_method_name
        self._parameter_space = _checked_space(type(self).__name__, parameter_space)
        self._properties = _checked_properties(type(self).__name__, properties)
        self._supported_distributions = supported_distributions
        self._distributions_validators = distributions_validators
        self._validate_supported_distributions()

    def to_json(self) -> dict[str, Any]:
        """v1's JSON form: ``{"name", "parameter_space"}`` and ``"properties"`` when set."""
        definition: dict[str, Any] = {
            "name": self._sampling_method_name,
            "parameter_space": self._parameter_space,
        }
        if self._properties:
            definition["properties"] = self._properties
        return definition

    def _validate_supported_distributions(self) -> None:
        supported = self._supported_distributions
        for key, distribution in self._parameter_space.items():
            if supported and distribution[0] not in supported:
                listed = ", ".join(sorted(supported))
                raise HyperDriveConfigException(
                    f"This sampling method expects only the following distributions: "
                    f"[{listed}]. {key!r} is {distribution[0]}(); use "
                    f"{_alternative(self._sampling_method_name, listed)}."
                )
            validator = (self._distributions_validators or {}).get(distribution[0])
            if validator is not None:
                ok, why = validator(distribution)
                if not ok:
                    raise HyperDriveConfigException(
                        f"Failed to validate a parameter distribution due to {why} "
                        f"({key!r}: {distribution!r})"
                    )

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value as v1's

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._parameter_space!r})"

    @staticmethod
    def _choice_validator(choice_definition: list[Any]) -> tuple[bool, str | None]:
        values = choice_definition[1][0]
        if not values:
            return False, "At least one 'choice' value is required."
        if any(type(v) not in (int, str, float) for v in values):
            return False, "'choice' values should be 'int', 'string' or 'float'."
        strings = sum(isinstance(v, str) for v in values)
        if strings not in (0, len(values)):
            return False, "Either all or none of the 'choice' values should be 'str' type."
        return True, None

    @classmethod
    def _from_dict(cls, dict_sampling: Mapping[str, Any]) -> HyperParameterSampling:
        if "parameter_space" not in dict_sampling:
            raise HyperDriveRehydrateException("Could not find parameter_space in dict_sampling")
        # the subclasses take (parameter_space, properties)
        return cls(dict_sampling["parameter_space"], dict_sampling.get("properties"))  # type: ignore[call-arg, arg-type]


class RandomParameterSampling(HyperParameterSampling):
    """Random draws over any expressions; ``properties={"seed": n}`` makes it repeatable.
    Over a finite space (only choice and randint) no point repeats while unused ones remain."""

    SAMPLING_NAME = "RANDOM"

    def __init__(
        self, parameter_space: Mapping[str, Any], properties: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(RandomParameterSampling.SAMPLING_NAME, parameter_space, properties)


class GridParameterSampling(HyperParameterSampling):
    """Every combination of the ``choice`` values, once each; only ``choice`` is allowed."""

    SAMPLING_NAME = "GRID"

    def __init__(
        self, parameter_space: Mapping[str, Any], properties: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(
            GridParameterSampling.SAMPLING_NAME,
            parameter_space,
            properties,
            supported_distributions={"choice"},
        )


class BayesianParameterSampling(HyperParameterSampling):
    """Bayesian optimization (Optuna's TPE here) over ``choice``, ``uniform`` and
    ``quniform`` (int arguments, at most 100000 points); it takes no early-termination policy."""

    SAMPLING_NAME = "BayesianOptimization"

    def __init__(
        self, parameter_space: Mapping[str, Any], properties: Mapping[str, Any] | None = None
    ) -> None:
        if parameter_space is None:
            raise HyperDriveConfigException(
                "BayesianParameterSampling expects parameter_space to not be None or empty. "
                "Pass a dict such as {'--lr': uniform(0.001, 0.1)}."
            )
        super().__init__(
            BayesianParameterSampling.SAMPLING_NAME,
            parameter_space,
            properties,
            supported_distributions={"choice", "quniform", "uniform"},
            distributions_validators={
                "choice": self._choice_validator,
                "quniform": self._bayesian_quniform_validator,
            },
        )

    @staticmethod
    def _bayesian_quniform_validator(definition: list[Any]) -> tuple[bool, str | None]:
        args = definition[1]
        if any(type(a) is not int for a in args):
            return False, "Expected quniform arguments to be int."
        low, high, q = args
        if (high - low) / q > 100000:
            return (
                False,
                "Too many discrete points for quniform distribution. Use larger q or uniform "
                "instead.",
            )
        return True, None


_SAMPLINGS: dict[str, type[HyperParameterSampling]] = {
    cls.SAMPLING_NAME.lower(): cls  # type: ignore[attr-defined]
    for cls in (RandomParameterSampling, GridParameterSampling, BayesianParameterSampling)
}


def _sampling_from_dict(dict_sampling: Any) -> HyperParameterSampling:
    """A sampling back from its ``to_json()`` (v1's rehydration of a stored sweep)."""
    if not isinstance(dict_sampling, Mapping) or "name" not in dict_sampling:
        raise HyperDriveRehydrateException(
            f"Could not find name in dict_sampling ({dict_sampling!r:.200})"
        )
    cls = _SAMPLINGS.get(str(dict_sampling["name"]).lower())
    if cls is None:
        raise HyperDriveConfigException(
            "Failed to rehydrate run due to unknown sampling method "
            f"{dict_sampling['name']!r}; expected RANDOM, GRID or BayesianOptimization."
        )
    return cls._from_dict(dict_sampling)


def _alternative(method: str, listed: str) -> str:
    if method == GridParameterSampling.SAMPLING_NAME:
        return "choice() listing the values to try, or RandomParameterSampling"
    return f"only {listed}, or RandomParameterSampling, which takes every expression"


def _checked_space(owner: str, space: Any) -> dict[str, Any]:
    if not isinstance(space, Mapping) or not space:
        raise HyperDriveConfigException(
            f"{owner} expects parameter_space to be a non-empty dict of argument name -> "
            f"parameter expression (got {space!r:.200}), e.g. {{'--lr': uniform(0.001, 0.1)}}."
        )
    checked: dict[str, Any] = {}
    for key, expression in space.items():
        if not isinstance(key, str) or not key.strip():
            raise HyperDriveConfigException(
                f"{owner}'s parameter_space has the key {key!r}; keys are the script's argument "
                "names as strings, e.g. '--learning_rate'."
            )
        if not (
            isinstance(expression, list | tuple)
            and len(expression) == 2
            and expression[0] in _EXPRESSIONS
            and isinstance(expression[1], list | tuple)
        ):
            raise HyperDriveConfigException(
                f"{owner}'s parameter_space[{key!r}] is {expression!r:.200}, not a parameter "
                "expression; build it with choice(), uniform() ... from "
                "azureml.train.hyperdrive, e.g. choice(16, 32)."
            )
        checked[key] = [expression[0], list(expression[1])]
    return checked


def _checked_properties(owner: str, properties: Any) -> dict[str, Any] | None:
    if properties is None:
        return None
    if not isinstance(properties, Mapping):
        raise HyperDriveConfigException(
            f"{owner} expects properties to be a dict (got {properties!r:.200}), e.g. "
            "{'seed': 42}."
        )
    seed = properties.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise HyperDriveConfigException(
            f"{owner}'s properties['seed'] is {seed!r}; it must be a non-negative int, "
            "e.g. {'seed': 42}."
        )
    return dict(properties)
