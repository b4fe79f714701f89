"""HyperDrive's early-termination policies: v1's formulas (reference §7), as pure functions.

``policy_config`` is v1's ``EarlyTerminationPolicy.to_json()``. Intervals count the times a
child logged the primary metric: interval N is its N-th value. A policy is applied to a
running child at each multiple of ``evaluation_interval`` that is at least
``delay_evaluation``; each such point is evaluated once per child, in order, and the first
that cuts the child stops it. "Every child" below means every child of the sweep, finished
ones too, that has values (the child itself included).

- Bandit: ``best`` is the best value at interval N over every child that reached N.
  MAXIMIZE cancels when x < best / (1 + slack_factor) or x < best - slack_amount;
  MINIMIZE when x > best * (1 + slack_factor) or x > best + slack_amount. The child holding
  ``best`` is never cut: with a negative best the slack_factor form puts the cutoff on the
  wrong side of it (e.g. best -0.5 -> cutoff -0.45), and a run is within any slack of itself.
- MedianStopping: cancels at N when the child's best value over 1..N is worse than the
  median (``statistics.median``: the mean of the middle two for an even count) of the
  running averages (mean of values 1..N) of every child that reached N.
- TruncationSelection: at N, ranks every child by its value at N (a child with fewer
  values: its latest one; only the running children with ``exclude_finished_jobs``) and
  cancels this child when it is among the worst floor(count * truncation_percentage / 100).
  Ties rank in this child's favour: it is cut only when strictly worse than the worst
  child that survives (the cutoff), so equal values are kept or cut together.
- Default: never cancels.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from runyard.exceptions import UserErrorException


class Decision(NamedTuple):
    """A child stopped by the policy, and why (``message`` names it all in one line)."""

    run_id: str
    policy: str
    interval: int
    value: float
    cutoff: float
    message: str


@dataclass(slots=True)
class _Sweep:
    """The series of one evaluate() call, with what the rules reuse between intervals."""

    series: Mapping[str, Sequence[float]]
    active: Collection[str]
    maximize: bool
    sums: dict[str, list[float]] = field(default_factory=dict)  # prefix sums, lazily

    def worse(self, x: float, than: float) -> bool:
        return x < than if self.maximize else x > than

    def best(self, values: Sequence[float]) -> float:
        return max(values) if self.maximize else min(values)

    def running_average(self, run_id: str, n: int) -> float:
        # prefix sums: a child logging every step would make this quadratic otherwise
        sums = self.sums.get(run_id)
        if sums is None:
            sums = self.sums[run_id] = list(itertools.accumulate(self.series[run_id]))
        return sums[n - 1] / n


# (props, sweep, run_id, n, own best over 1..n) -> (value, cutoff, why) when cut, else None
_Cut = tuple[float, float, str]
_Rule = Callable[[Mapping[str, Any], _Sweep, str, int, float], _Cut | None]


def _bandit(props: Mapping[str, Any], sweep: _Sweep, run_id: str, n: int, _: float) -> _Cut | None:
    x = sweep.series[run_id][n - 1]
    best = sweep.best([v[n - 1] for v in sweep.series.values() if len(v) >= n])
    factor = props.get("slack_factor")
    if factor is not None:
        cutoff = best / (1 + factor) if sweep.maximize else best * (1 + factor)
        why = f"best {best:g}, slack_factor {factor:g}"
    else:
        amount = props["slack_amount"]
        cutoff = best - amount if sweep.maximize else best + amount
        why = f"best {best:g}, slack_amount {amount:g}"
    cut = sweep.worse(x, cutoff) and sweep.worse(x, best)
    return (x, cutoff, why) if cut else None


def _median(_: Mapping[str, Any], sweep: _Sweep, run_id: str, n: int, own: float) -> _Cut | None:
    reached = [rid for rid, v in sweep.series.items() if len(v) >= n]
    cutoff = statistics.median(sweep.running_average(rid, n) for rid in reached)
    why = f"best so far vs the median of {len(reached)} runs' running averages"
    return (own, cutoff, why) if sweep.worse(own, cutoff) else None


def _truncation(
    props: Mapping[str, Any], sweep: _Sweep, run_id: str, n: int, _: float
) -> _Cut | None:
    pct = props["truncation_percentage"]
    exclude = bool(props.get("exclude_finished_jobs"))
    latest = {
        rid: v[min(n, len(v)) - 1]
        for rid, v in sweep.series.items()
        if v and (rid in sweep.active or not exclude)
    }
    count = len(latest) * pct // 100
    if count == 0:
        return None
    x = latest[run_id]
    ranked = sorted(latest.values(), reverse=sweep.maximize)  # best first
    cutoff = ranked[len(ranked) - count - 1]  # the worst that survives
    why = f"in the lowest {pct}% of {len(latest)} runs at interval {n}: {count} cut"
    return (x, cutoff, why) if sweep.worse(x, cutoff) else None


_POLICIES: dict[str, tuple[str, _Rule | None]] = {
    "bandit": ("BanditPolicy", _bandit),
    "medianstopping": ("MedianStoppingPolicy", _median),
    "truncationselection": ("TruncationSelectionPolicy", _truncation),
    "default": ("NoTerminationPolicy", None),
}


def _count(props: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = props.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserErrorException(
            f"policy_config's {key} is {value!r}; it must be an int from {low} to {high}."
        )
    return value


def _checked(name: str, props: Mapping[str, Any]) -> None:
    if name == "bandit":
        given = [k for k in ("slack_factor", "slack_amount") if props.get(k) is not None]
        if len(given) != 1 or not all(_is_number(props[k]) for k in given):
            raise UserErrorException(
                "BanditPolicy's policy_config needs exactly one number of slack_factor or "
                f"slack_amount; it has {dict(props)!r}."
            )
    if name == "truncationselection" and _count(props, "truncation_percentage", 0, 1, 99) == 0:
        raise UserErrorException(
            "TruncationSelectionPolicy's policy_config has no truncation_percentage; "
            "give an int from 1 to 99."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def stops_children(policy_config: Mapping[str, Any]) -> bool:
    """False for NoTerminationPolicy (v1's Default): no child is ever stopped early."""
    name = str(policy_config.get("name") or "Default").lower()
    return name not in _POLICIES or _POLICIES[name][1] is not None


def evaluate(
    policy_config: Mapping[str, Any],
    goal: str,
    metric_name: str,
    series: Mapping[str, Sequence[float]],
    active: Collection[str],
    evaluated: MutableMapping[str, int],
) -> list[Decision]:
    """The active children the policy stops now (at most one decision per child).

    ``series``: every child's primary metric values in log order (finished children too);
    ``evaluated[run_id]``: the last interval already evaluated for that child (missing: 0),
    updated here. Raises UserErrorException for an unknown policy or goal, or properties
    v1's policy classes would not have produced.
    """
    name = str(policy_config.get("name") or "Default").lower()
    if name not in _POLICIES:
        raise UserErrorException(
            f"Unknown early-termination policy {policy_config.get('name')!r}; expected "
            "Bandit, MedianStopping, TruncationSelection or Default."
        )
    class_name, rule = _POLICIES[name]
    if rule is None:
        return []
    if goal.lower() not in ("maximize", "minimize"):
        raise UserErrorException(f"Unknown primary metric goal {goal!r}; use MAXIMIZE or MINIMIZE.")
    props = policy_config.get("properties") or {}
    interval = _count(props, "evaluation_interval", 1, 1, 2**31)
    delay = _count(props, "delay_evaluation", 0, 0, 2**31)
    _checked(name, props)
    sweep = _Sweep(series, active, goal.lower() == "maximize")
    sign = "<" if sweep.maximize else ">"
    decisions = []
    for run_id in sorted(active):
        values = series.get(run_id) or []
        done = evaluated.get(run_id, 0)
        own = sweep.best(values[:done]) if done and len(values) >= done else None
        for n in range(done + 1, len(values) + 1):
            evaluated[run_id] = n
            x = values[n - 1]
            own = x if own is None or sweep.worse(own, x) else own
            if n % interval or n < delay:
                continue
            cut = rule(props, sweep, run_id, n, own)
            if cut is not None:
                value, cutoff, why = cut
                message = (
                    f"Canceled by {class_name} at interval {n}: {metric_name} "
                    f"{value:g} {sign} cutoff {cutoff:g} ({why})"
                )
                decisions.append(Decision(run_id, class_name, n, value, cutoff, message))
                break
    return decisions
