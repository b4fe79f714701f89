"""HyperDrive's early-termination policies: v1's formulas (reference §7), as pure functions.

Intervals count the times a child logged the primary metric: interval N is its N-th
value. A policy is applied to a running child at each multiple of ``evaluation_interval``
that is at least ``delay_evaluation``; each such point is evaluated once per child, in
order, and the first that cuts the child stops it.

- Bandit: ``best`` is the best value at interval N over every child that reached N.
  MAXIMIZE cancels when x < best / (1 + slack_factor) or x < best - slack_amount;
  MINIMIZE when x > best * (1 + slack_factor) or x > best + slack_amount.
- MedianStopping: cancels at N when the child's best value over 1..N is worse than the
  median of the running averages (mean of values 1..N) of every child that reached N.
- TruncationSelection: at N, ranks every child by its value at N (a child with fewer
  values: its latest one), and cancels this child when it is among the worst
  floor(count * truncation_percentage / 100); ties rank in this child's favour.
- Default: never cancels.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple


class Decision(NamedTuple):
    """A child stopped by the policy, and why (``message`` names it all in one line)."""

    run_id: str
    policy: str
    interval: int
    value: float
    cutoff: float
    message: str


_CLASS_NAMES = {
    "Bandit": "BanditPolicy",
    "MedianStopping": "MedianStoppingPolicy",
    "TruncationSelection": "TruncationSelectionPolicy",
}


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
    ``evaluated[run_id]``: the last interval already evaluated for that child, updated here.
    """
    name = str(policy_config.get("name", "Default"))
    if name not in _CLASS_NAMES:
        return []
    props = policy_config.get("properties") or {}
    interval = int(props.get("evaluation_interval") or 1)
    delay = int(props.get("delay_evaluation") or 0)
    maximize = goal.lower() == "maximize"
    decisions = []
    for run_id in sorted(active):
        values = series.get(run_id) or []
        done = evaluated.get(run_id, 0)
        for n in range(done + 1, len(values) + 1):
            evaluated[run_id] = n
            if n % interval or n < delay:
                continue
            cut = _check(name, props, maximize, run_id, n, series)
            if cut is not None:
                value, cutoff, why = cut
                message = (
                    f"Canceled by {_CLASS_NAMES[name]} at interval {n}: {metric_name} "
                    f"{value:g} {'<' if maximize else '>'} cutoff {cutoff:g} ({why})"
                )
                decisions.append(Decision(run_id, _CLASS_NAMES[name], n, value, cutoff, message))
                break
    return decisions


def _check(
    name: str,
    props: Mapping[str, Any],
    maximize: bool,
    run_id: str,
    n: int,
    series: Mapping[str, Sequence[float]],
) -> tuple[float, float, str] | None:
    """(value, cutoff, explanation) when the child is cut at interval n, else None."""
    if name == "Bandit":
        return _bandit(props, maximize, series[run_id][n - 1], n, series)
    if name == "MedianStopping":
        return _median(maximize, run_id, n, series)
    return _truncation(props, maximize, run_id, n, series)


def _worse(x: float, cutoff: float, maximize: bool) -> bool:
    return x < cutoff if maximize else x > cutoff


def _bandit(
    props: Mapping[str, Any],
    maximize: bool,
    x: float,
    n: int,
    series: Mapping[str, Sequence[float]],
) -> tuple[float, float, str] | None:
    at_n = [v[n - 1] for v in series.values() if len(v) >= n]
    best = max(at_n) if maximize else min(at_n)
    factor, amount = props.get("slack_factor"), props.get("slack_amount")
    if factor is not None:
        cutoff = best / (1 + factor) if maximize else best * (1 + factor)
        why = f"best {best:g}, slack_factor {factor:g}"
    else:
        amount = float(amount or 0)
        cutoff = best - amount if maximize else best + amount
        why = f"best {best:g}, slack_amount {amount:g}"
    return (x, cutoff, why) if _worse(x, cutoff, maximize) else None


def _median(
    maximize: bool, run_id: str, n: int, series: Mapping[str, Sequence[float]]
) -> tuple[float, float, str] | None:
    own = series[run_id][:n]
    best = max(own) if maximize else min(own)
    averages = [statistics.fmean(v[:n]) for v in series.values() if len(v) >= n]
    cutoff = statistics.median(averages)
    why = f"its best so far vs the median of {len(averages)} runs' running averages"
    return (best, cutoff, why) if _worse(best, cutoff, maximize) else None


def _truncation(
    props: Mapping[str, Any],
    maximize: bool,
    run_id: str,
    n: int,
    series: Mapping[str, Sequence[float]],
) -> tuple[float, float, str] | None:
    pct = int(props.get("truncation_percentage") or 0)
    values = {rid: v[min(n, len(v)) - 1] for rid, v in series.items() if v}
    count = len(values) * pct // 100
    if count == 0:
        return None
    x = values[run_id]
    # Worst first; on a tie this child ranks after the others, i.e. in its favour.
    ranked = sorted(values.items(), key=lambda kv: (kv[1] if maximize else -kv[1], kv[0] == run_id))
    worst = [rid for rid, _ in ranked[:count]]
    if run_id not in worst:
        return None
    cutoff = ranked[count][1] if count < len(ranked) else x
    why = f"in the lowest {pct}% of {len(values)} runs at interval {n}"
    return x, cutoff, why
