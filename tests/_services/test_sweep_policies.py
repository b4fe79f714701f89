"""HyperDrive's early-termination math on hand-computed cases, for both goals."""

from __future__ import annotations

import pytest

from runyard._services.sweep_policies import evaluate


def bandit(**props):
    return {
        "name": "Bandit",
        "properties": {"evaluation_interval": 1, "delay_evaluation": 0, **props},
    }


def run(policy, goal, series, active=None, evaluated=None):
    evaluated = {} if evaluated is None else evaluated
    active = list(series) if active is None else active
    return {d.run_id: d for d in evaluate(policy, goal, "acc", series, active, evaluated)}


def test_bandit_slack_factor_maximize_matches_the_docs_example():
    # best 0.8, slack_factor 0.1 -> cutoff 0.8 / 1.1 = 0.7272...
    cut = run(bandit(slack_factor=0.1), "maximize", {"a": [0.8], "b": [0.72], "c": [0.73]})
    assert set(cut) == {"b"}
    d = cut["b"]
    assert d.cutoff == pytest.approx(0.8 / 1.1) and d.interval == 1 and d.value == 0.72
    assert d.policy == "BanditPolicy"
    assert "BanditPolicy" in d.message and "interval 1" in d.message and "0.727" in d.message


def test_bandit_slack_factor_minimize():
    # best 0.5, cutoff 0.5 * 1.2 = 0.6
    cut = run(bandit(slack_factor=0.2), "minimize", {"a": [0.5], "b": [0.61], "c": [0.59]})
    assert set(cut) == {"b"} and cut["b"].cutoff == pytest.approx(0.6)


def test_bandit_slack_amount_both_goals():
    cut = run(bandit(slack_amount=0.1), "maximize", {"a": [0.9], "b": [0.79], "c": [0.81]})
    assert set(cut) == {"b"} and cut["b"].cutoff == pytest.approx(0.8)
    cut = run(bandit(slack_amount=0.1), "minimize", {"a": [0.2], "b": [0.31], "c": [0.29]})
    assert set(cut) == {"b"} and cut["b"].cutoff == pytest.approx(0.3)


def test_bandit_compares_values_at_the_same_interval():
    # At interval 1 the best is a's 0.5: b's 0.5 is fine; at 2, a's 0.9 cuts b's 0.6.
    series = {"a": [0.5, 0.9], "b": [0.5, 0.6]}
    cut = run(bandit(slack_factor=0.1), "maximize", series)
    assert set(cut) == {"b"} and cut["b"].interval == 2


def test_delay_and_interval_choose_the_evaluated_points_once_each():
    policy = {
        "name": "Bandit",
        "properties": {"evaluation_interval": 2, "delay_evaluation": 3, "slack_amount": 0.0},
    }
    # b is worse than a at every interval; evaluation points are 4, 6, ... (not 1, 2, 3).
    evaluated: dict[str, int] = {}
    assert run(policy, "maximize", {"a": [1, 1, 1], "b": [0, 0, 0]}, evaluated=evaluated) == {}
    assert evaluated == {"a": 3, "b": 3}
    cut = run(policy, "maximize", {"a": [1, 1, 1, 1, 1], "b": [0, 0, 0, 0, 0]}, evaluated=evaluated)
    assert cut["b"].interval == 4  # the first point reached since, in order
    # Nothing is evaluated twice: the same data again decides nothing new.
    again = run(policy, "maximize", {"a": [1] * 5, "b": [0] * 5}, evaluated={"a": 5, "b": 5})
    assert again == {}


def test_only_active_runs_are_stopped():
    cut = run(bandit(slack_amount=0.0), "maximize", {"a": [1.0], "b": [0.0]}, active=["a"])
    assert cut == {}


def test_median_stopping_both_goals():
    policy = {
        "name": "MedianStopping",
        "properties": {"evaluation_interval": 1, "delay_evaluation": 2},
    }
    # Interval 2 running averages: a 0.85, b 0.65, c 0.35 -> median 0.65.
    # Best so far: a 0.9, b 0.7 (>= 0.65, kept), c 0.4 (< 0.65, cut).
    series = {"a": [0.8, 0.9], "b": [0.6, 0.7], "c": [0.3, 0.4]}
    cut = run(policy, "maximize", series)
    assert set(cut) == {"c"} and cut["c"].cutoff == pytest.approx(0.65)
    assert cut["c"].value == pytest.approx(0.4)
    # Minimize: averages a 0.85, b 0.65, c 0.35 -> median 0.65; best (min) a 0.8 > 0.65: cut.
    cut = run(policy, "minimize", series)
    assert set(cut) == {"a"} and cut["a"].value == pytest.approx(0.8)


def test_truncation_selection_cuts_the_lowest_percentage():
    policy = {
        "name": "TruncationSelection",
        "properties": {
            "evaluation_interval": 1,
            "delay_evaluation": 0,
            "truncation_percentage": 50,
        },
    }
    series = {"a": [0.9], "b": [0.1], "c": [0.5], "d": [0.3]}
    # 4 runs, 50% -> the 2 worst: b and d (maximize), a and c (minimize).
    assert set(run(policy, "maximize", series)) == {"b", "d"}
    assert set(run(policy, "minimize", series)) == {"a", "c"}
    # 25% of 3 runs is 0 runs: nothing is cut.
    policy["properties"]["truncation_percentage"] = 25
    assert run(policy, "maximize", {"a": [1.0], "b": [0.0], "c": [0.5]}) == {}


def test_truncation_compares_against_others_latest_value_at_or_before_n():
    policy = {
        "name": "TruncationSelection",
        "properties": {
            "evaluation_interval": 1,
            "delay_evaluation": 2,
            "truncation_percentage": 50,
        },
    }
    # At interval 2: a finished with one value 0.9 (its latest); b 0.2 is the worst half.
    series = {"a": [0.9], "b": [0.1, 0.2]}
    cut = run(policy, "maximize", series, active=["b"])
    assert set(cut) == {"b"} and cut["b"].interval == 2


def test_no_termination_policy_never_cuts():
    assert run({"name": "Default"}, "maximize", {"a": [1.0], "b": [0.0]}) == {}
