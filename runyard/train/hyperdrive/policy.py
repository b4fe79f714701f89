"""HyperDrive's early-termination policies (v1's ``azureml.train.hyperdrive.policy``).

``to_json()`` is v1's ``{"name", "properties"}``; the agent's sweep loop applies it as the
children log the primary metric (runyard/_services/sweep_policies.py holds the formulas).
An interval counts the times a child has logged the primary metric; a policy acts at each
multiple of ``evaluation_interval`` at or after ``delay_evaluation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runyard.exceptions import HyperDriveConfigException, HyperDriveRehydrateException

__all__ = [
    "BanditPolicy",
    "EarlyTerminationPolicy",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "TruncationSelectionPolicy",
]


class EarlyTerminationPolicy:
    """The base of the policies: a name and its properties."""

    POLICY_NAME = ""

    def __init__(self, name: str, properties: Mapping[str, Any] | None = None) -> None:
        self._name = name
        self._properties = dict(properties) if properties is not None else None

    def to_json(self) -> dict[str, Any]:
        termination_policy: dict[str, Any] = {"name": self._name}
        if self._properties is not None:
            termination_policy["properties"] = self._properties
        return termination_policy

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._properties or ''})"

    @classmethod
    def _from_dict(cls, dict_policy: Mapping[str, Any]) -> EarlyTerminationPolicy:
        if "properties" not in dict_policy:
            raise HyperDriveRehydrateException("Could not find properties in dict_policy")
        return cls(**dict_policy["properties"])


class _TimedPolicy(EarlyTerminationPolicy):
    """A policy evaluated at each multiple of evaluation_interval from delay_evaluation on."""

    def __init__(self, name: str, properties: Mapping[str, Any]) -> None:
        super().__init__(name, properties)
        self._evaluation_interval: int = properties["evaluation_interval"]
        self._delay_evaluation: int = properties["delay_evaluation"]

    @property
    def evaluation_interval(self) -> int:
        return self._evaluation_interval

    @property
    def delay_evaluation(self) -> int:
        return self._delay_evaluation


def _int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise HyperDriveConfigException(
            f"Expected type int for {name} but got {type(value).__name__} ({value!r}); pass a "
            f"whole number >= {low}."
        )
    if value < low:
        raise HyperDriveConfigException(f"{name} expects a value >= {low} (got {value}).")
    return value


def _timing(evaluation_interval: Any, delay_evaluation: Any) -> dict[str, Any]:
    return {
        "evaluation_interval": _int("evaluation_interval", evaluation_interval, 1),
        "delay_evaluation": _int("delay_evaluation", delay_evaluation, 0),
    }


class BanditPolicy(_TimedPolicy):
    """Stops a child whose primary metric falls outside the slack of the best child's at the
    same interval: for MAXIMIZE below ``best / (1 + slack_factor)`` or ``best - slack_amount``,
    for MINIMIZE above ``best * (1 + slack_factor)`` or ``best + slack_amount``."""

    POLICY_NAME = "Bandit"

    def __init__(
        self,
        evaluation_interval: int = 1,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        delay_evaluation: int = 0,
    ) -> None:
        if (slack_factor is None) == (slack_amount is None):
            raise HyperDriveConfigException(
                "Bandit termination policy expects exactly one of slack factor or slack amount "
                "to be set. Pass slack_factor=0.1 (a ratio to the best run) or slack_amount=0.2 "
                "(a distance to it), not both."
            )
        slack_name, slack = (
            ("slack_factor", slack_factor) if slack_factor is not None else
            ("slack_amount", slack_amount)
        )  # fmt: skip
        if not isinstance(slack, int | float) or isinstance(slack, bool) or slack < 0:
            raise HyperDriveConfigException(
                f"Bandit termination policy expects {slack_name} to be a number >= 0 "
                f"(got {slack!r})."
            )
        config = _timing(evaluation_interval, delay_evaluation)
        config[slack_name] = slack
        super().__init__(BanditPolicy.POLICY_NAME, config)
        self._slack_factor = slack_factor
        self._slack_amount = slack_amount

    @property
    def slack_factor(self) -> float | None:
        return self._slack_factor

    @property
    def slack_amount(self) -> float | None:
        return self._slack_amount


class MedianStoppingPolicy(_TimedPolicy):
    """Stops a child whose best primary metric so far is worse than the median of all
    children's running averages up to that interval."""

    POLICY_NAME = "MedianStopping"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        super().__init__(
            MedianStoppingPolicy.POLICY_NAME, _timing(evaluation_interval, delay_evaluation)
        )


class TruncationSelectionPolicy(_TimedPolicy):
    """At each evaluation, stops the children in the lowest ``truncation_percentage`` percent
    by primary metric."""

    POLICY_NAME = "TruncationSelection"

    def __init__(
        self, truncation_percentage: int, evaluation_interval: int = 1, delay_evaluation: int = 0
    ) -> None:
        if not isinstance(truncation_percentage, int) or isinstance(truncation_percentage, bool):
            raise HyperDriveConfigException(
                f"Expected type int for truncation_percentage but got "
                f"{type(truncation_percentage).__name__} ({truncation_percentage!r}); pass a "
                "whole percentage such as 20."
            )
        if not 1 <= truncation_percentage <= 99:
            raise HyperDriveConfigException(
                f"truncation_percentage expects value to be between 1 and 99. Got "
                f"{truncation_percentage}; pass e.g. truncation_percentage=20 to stop the "
                "lowest 20%."
            )
        config = _timing(evaluation_interval, delay_evaluation)
        config["truncation_percentage"] = truncation_percentage
        config["exclude_finished_jobs"] = False
        super().__init__(TruncationSelectionPolicy.POLICY_NAME, config)
        self._truncation_percentage = truncation_percentage

    @property
    def truncation_percentage(self) -> int:
        return self._truncation_percentage

    @classmethod
    def _from_dict(cls, dict_policy: Mapping[str, Any]) -> EarlyTerminationPolicy:
        props = dict(dict_policy.get("properties") or {})
        props.pop("exclude_finished_jobs", None)
        return cls(**props)


class NoTerminationPolicy(EarlyTerminationPolicy):
    """No early termination: every child runs to its end."""

    POLICY_NAME = "Default"

    def __init__(self) -> None:
        super().__init__(NoTerminationPolicy.POLICY_NAME)

    @classmethod
    def _from_dict(cls, dict_policy: Mapping[str, Any]) -> EarlyTerminationPolicy:
        return cls()


_POLICIES: dict[str, type[EarlyTerminationPolicy]] = {
    cls.POLICY_NAME.lower(): cls
    for cls in (BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, NoTerminationPolicy)
}


def _policy_from_dict(dict_policy: Any) -> EarlyTerminationPolicy:
    """A policy back from its ``to_json()`` (v1's rehydration of a stored sweep)."""
    if not isinstance(dict_policy, Mapping) or "name" not in dict_policy:
        raise HyperDriveRehydrateException(
            f"Could not find name in dict_policy ({dict_policy!r:.200})"
        )
    cls = _POLICIES.get(str(dict_policy["name"]).lower())
    if cls is None:
        raise HyperDriveConfigException(
            f"Unknown policy {dict_policy['name']}. Expected Bandit, MedianStopping, "
            "TruncationSelection or Default."
        )
    return cls._from_dict(dict_policy)
