"""HyperDrive's sweep engine, pure parts: sampling (sweep_sampling) and the policies' edge
cases not in test_sweep_policies.py (hand-computed, both goals)."""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter

import pytest

from runyard._services.sweep_policies import evaluate
from runyard._services.sweep_sampling import Trial, make_sampler
from runyard.exceptions import UserErrorException


def config(name, **space):
    return {"name": name, "parameter_space": space}


def run_sweep(sampler, count, value=None):
    """Asks for children 0, 1, ... as the sweep loop does; stops at the first None."""
    trials: list[Trial] = []
    for index in range(count):
        params = sampler.sample(index, trials)
        if params is None:
            break
        score = None if value is None else value(params)
        trials.append(Trial(index, params, score, score is not None))
    return trials


def key(params):
    return json.dumps(params, sort_keys=True)


# ---- grid ------------------------------------------------------------------------------------
GRID = config(
    "GRID", **{"--lr": ["choice", [[0.1, 0.01, 0.001]]], "--batch": ["choice", [[16, 32]]]}
)


def test_grid_covers_every_combination_exactly_once_then_none():
    sampler = make_sampler(GRID, "maximize", 7)
    assert sampler.size() == 3 * 2
    trials = run_sweep(sampler, 10)
    assert len(trials) == 6
    seen = Counter(key(t.params) for t in trials)
    expected = {key({"--lr": lr, "--batch": b}) for lr in (0.1, 0.01, 0.001) for b in (16, 32)}
    assert set(seen) == expected and set(seen.values()) == {1}
    assert sampler.sample(6, trials) is None


def test_grid_skips_points_already_used_by_any_trial():
    # A resumed sweep's children (other indices) count as used too.
    sampler = make_sampler(GRID, "maximize", 7)
    used = Trial(3, {"--lr": 0.01, "--batch": 32}, 0.5, True)
    trials = run_sweep(sampler, 10)
    rest = [t for t in trials if t.params != used.params]
    again = [used]
    for index in range(5):
        params = sampler.sample(index, again)
        assert params is not None and params != used.params
        again.append(Trial(index, params, None, False))
    assert {key(t.params) for t in again} == {key(t.params) for t in [used, *rest]}
    assert sampler.sample(5, again) is None


def test_grid_rejects_other_expressions_by_name():
    space = config("GRID", a=["choice", [[1]]], b=["uniform", [0, 1]])
    with pytest.raises(UserErrorException, match="only choice.*b use other"):
        make_sampler(space, "maximize", 0)


# ---- random ----------------------------------------------------------------------------------
MIXED = config(
    "RANDOM",
    **{"--lr": ["loguniform", [-6, -1]], "--opt": ["choice", [["sgd", "adam"]]]},
    momentum=["uniform", [0.5, 0.99]],
)


def test_random_with_the_same_seed_repeats_exactly_and_another_seed_differs():
    first = [t.params for t in run_sweep(make_sampler(MIXED, "maximize", 11), 20)]
    again = [t.params for t in run_sweep(make_sampler(MIXED, "maximize", 11), 20)]
    other = [t.params for t in run_sweep(make_sampler(MIXED, "maximize", 12), 20)]
    assert first == again
    assert first != other and len({key(p) for p in first + other}) == 40
    assert make_sampler(MIXED, "maximize", 11).size() is None


def test_asking_again_for_index_n_with_the_same_trials_gives_the_same_params():
    # What a restarted agent does: a new sampler, the same child number and trials.
    for name in ("RANDOM", "BayesianOptimization"):
        space = config(name, x=["uniform", [0, 1]], c=["choice", [[1, 2, 3]]])
        trials = run_sweep(make_sampler(space, "maximize", 5), 15, lambda p: p["x"] * p["c"])
        once = make_sampler(space, "maximize", 5).sample(15, trials)
        twice = make_sampler(space, "maximize", 5).sample(15, trials)
        assert once == twice and once is not None


def test_random_over_a_finite_space_never_repeats_and_ends_with_none():
    space = config("RANDOM", a=["choice", [[1, 2, 3]]], b=["randint", [4]], c=["choice", [[True]]])
    sampler = make_sampler(space, "minimize", 3)
    assert sampler.size() == 12
    trials = run_sweep(sampler, 20)
    assert len(trials) == 12 and len({key(t.params) for t in trials}) == 12
    assert {t.params["b"] for t in trials} == {0, 1, 2, 3}
    assert sampler.sample(12, trials) is None


def test_a_nearly_used_up_space_still_finds_its_last_points():
    # 1000 points, 998 used: a fresh draw almost surely hits a used one; the pick among
    # the unused must land on one of the two left, the same one every time.
    sampler = make_sampler(config("RANDOM", n=["randint", [1000]]), "maximize", 1)
    trials = [Trial(i, {"n": i}, None, True) for i in range(1000) if i not in (17, 604)]
    picks = {sampler.sample(n, trials)["n"] for n in range(998, 1010)}
    assert picks <= {17, 604}
    assert sampler.sample(998, trials) == make_sampler(
        config("RANDOM", n=["randint", [1000]]), "maximize", 1
    ).sample(998, trials)


def test_choice_values_keep_their_type_and_duplicates_count_once():
    space = config("RANDOM", c=["choice", [[1, 1.0, "1", None, 1]]])
    sampler = make_sampler(space, "maximize", 0)
    assert sampler.size() == 4
    values = [t.params["c"] for t in run_sweep(sampler, 10)]
    assert sorted(map(repr, values)) == sorted(["1", "1.0", "'1'", "None"])


# ---- every expression ------------------------------------------------------------------------
EXPRESSIONS = {
    "choice": ["choice", [["x", 2, 3.5]]],
    "randint": ["randint", [5]],
    "uniform": ["uniform", [2, 4]],
    "quniform": ["quniform", [0, 10, 2]],
    "quniform_float_q": ["quniform", [0, 10, 2.0]],
    "loguniform": ["loguniform", [-3, 0]],
    "qloguniform": ["qloguniform", [0, 3, 1]],
    "normal": ["normal", [5, 2]],
    "qnormal": ["qnormal", [5, 2, 1]],
    "lognormal": ["lognormal", [0, 0.5]],
    "qlognormal": ["qlognormal", [2, 0.5, 2]],
}


@pytest.fixture(scope="module")
def samples():
    sampler = make_sampler(config("RANDOM", **EXPRESSIONS), "maximize", 2024)
    draws = [sampler.sample(i, []) for i in range(400)]
    json.dumps(draws)  # plain JSON values, as they reach the script
    return {name: [d[name] for d in draws] for name in EXPRESSIONS}


def test_choice_returns_the_options_themselves_about_evenly(samples):
    counts = Counter(map(repr, samples["choice"]))
    assert set(counts) == {"'x'", "2", "3.5"} and min(counts.values()) > 100


def test_randint_is_an_int_in_zero_to_upper(samples):
    values = samples["randint"]
    assert all(type(v) is int for v in values) and set(values) == set(range(5))


def test_uniform_stays_in_its_bounds_with_the_right_mean(samples):
    values = samples["uniform"]
    assert all(type(v) is float and 2 <= v <= 4 for v in values)
    assert statistics.fmean(values) == pytest.approx(3, abs=0.1)


def test_quniform_rounds_to_multiples_of_q_an_int_for_an_int_q(samples):
    values = samples["quniform"]
    assert all(type(v) is int for v in values) and set(values) == {0, 2, 4, 6, 8, 10}
    floats = samples["quniform_float_q"]
    assert all(type(v) is float and v in (0, 2, 4, 6, 8, 10) for v in floats)


def test_loguniform_bounds_are_exponents_and_its_log_is_uniform(samples):
    values = samples["loguniform"]
    assert all(math.exp(-3) <= v <= 1 for v in values)
    assert statistics.fmean(math.log(v) for v in values) == pytest.approx(-1.5, abs=0.15)


def test_qloguniform_rounds_exp_of_uniform(samples):
    values = samples["qloguniform"]
    assert all(type(v) is int and 1 <= v <= 20 for v in values)  # round(e^3) = 20
    assert statistics.median(values) in (4, 5)  # e^1.5 = 4.48


def test_normal_has_its_mean_and_sigma(samples):
    values = samples["normal"]
    assert statistics.fmean(values) == pytest.approx(5, abs=0.3)
    assert statistics.stdev(values) == pytest.approx(2, rel=0.12)


def test_qnormal_is_a_rounded_normal(samples):
    values = samples["qnormal"]
    assert all(type(v) is int for v in values)
    assert statistics.fmean(values) == pytest.approx(5, abs=0.3)


def test_lognormal_is_positive_and_its_log_is_normal(samples):
    logs = [math.log(v) for v in samples["lognormal"]]
    assert statistics.fmean(logs) == pytest.approx(0, abs=0.08)
    assert statistics.stdev(logs) == pytest.approx(0.5, rel=0.12)


def test_qlognormal_rounds_exp_of_normal_to_multiples_of_q(samples):
    values = samples["qlognormal"]
    assert all(type(v) is int and v % 2 == 0 and v >= 0 for v in values)
    assert statistics.median(values) in (6, 8)  # e^2 = 7.39


def test_a_normal_with_sigma_zero_is_its_mean():
    sampler = make_sampler(config("RANDOM", n=["normal", [3, 0]]), "maximize", 0)
    assert {sampler.sample(i, [])["n"] for i in range(5)} == {3.0}


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        (["uniform", [1, 1]], "min_value < max_value"),
        (["randint", [0]], "int > 0"),
        (["normal", [0, -1]], "sigma must be >= 0"),
        (["choice", [[]]], "non-empty list"),
        (["gamma", [1]], "unknown expression"),
        ("choice(1, 2)", "expected \\[name, \\[args\\]\\]"),
    ],
)
def test_bad_expressions_are_refused_by_key(expression, says):
    with pytest.raises(UserErrorException, match=says) as caught:
        make_sampler(config("RANDOM", **{"--x": expression}), "maximize", 0)
    assert "'--x'" in str(caught.value)


def test_unknown_sampling_and_goal_are_refused():
    with pytest.raises(UserErrorException, match="Unknown sampling 'SOBOL'"):
        make_sampler(config("SOBOL", a=["choice", [[1]]]), "maximize", 0)
    with pytest.raises(UserErrorException, match="goal 'up'"):
        make_sampler(config("RANDOM", a=["choice", [[1]]]), "up", 0)


# ---- Bayesian (TPE) --------------------------------------------------------------------------
BAYES = config("BayesianOptimization", x=["uniform", [-5, 5]], k=["quniform", [0, 20, 1]])


def _objective(params):
    return (params["x"] - 2) ** 2 + (params["k"] - 10) ** 2  # minimum at x=2, k=10


def test_bayesian_given_trials_returns_valid_points_deterministically():
    trials = run_sweep(make_sampler(BAYES, "minimize", 9), 30, _objective)
    assert all(-5 <= t.params["x"] <= 5 and type(t.params["k"]) is int for t in trials)
    assert trials == run_sweep(make_sampler(BAYES, "minimize", 9), 30, _objective)
    # TPE learns: after the random start-up trials, it samples near the minimum more often.
    late = statistics.median(_objective(t.params) for t in trials[15:])
    early = statistics.median(_objective(t.params) for t in trials[:10])
    assert late < early


def test_bayesian_reads_only_finished_trials_with_a_value():
    sampler = make_sampler(BAYES, "maximize", 1)
    done = run_sweep(sampler, 12, _objective)
    noise = [Trial(12, {"x": 0.0, "k": 0}, 999.0, False), Trial(13, {"x": 1.0}, None, True)]
    assert sampler.sample(14, done) == sampler.sample(14, done + noise)


def test_bayesian_over_a_finite_space_never_repeats():
    space = config("BayesianOptimization", c=["choice", [["a", "b", "c"]]], d=["randint", [2]])
    trials = run_sweep(make_sampler(space, "maximize", 4), 10, lambda p: p["d"])
    assert len(trials) == 6 and len({key(t.params) for t in trials}) == 6


# ---- policies: edge cases --------------------------------------------------------------------
def policy(name, **props):
    return {"name": name, "properties": {"evaluation_interval": 1, "delay_evaluation": 0, **props}}


def decide(config_, goal, series, active=None, evaluated=None):
    evaluated = {} if evaluated is None else evaluated
    active = list(series) if active is None else active
    return {d.run_id: d for d in evaluate(config_, goal, "Accuracy", series, active, evaluated)}


def test_bandit_message_names_policy_interval_value_and_cutoff():
    series = {"a": [0.5, 0.6, 0.8], "b": [0.5, 0.6, 0.61]}
    cut = decide(policy("Bandit", slack_factor=0.1), "maximize", series)
    assert cut["b"].message == (
        "Canceled by BanditPolicy at interval 3: Accuracy 0.61 < cutoff 0.727273 "
        "(best 0.8, slack_factor 0.1)"
    )


def test_bandit_minimize_with_slack_amount_says_greater_than():
    cut = decide(policy("Bandit", slack_amount=0.05), "minimize", {"a": [0.2], "b": [0.26]})
    assert cut["b"].cutoff == pytest.approx(0.25) and "0.26 > cutoff 0.25" in cut["b"].message


def test_bandit_never_cuts_the_best_run_even_with_a_negative_best():
    # best -0.5, slack_factor 0.1: -0.5 / 1.1 = -0.4545 lies above the best itself.
    cut = decide(policy("Bandit", slack_factor=0.1), "maximize", {"a": [-0.5], "b": [-0.6]})
    assert set(cut) == {"b"}


def test_values_logged_several_at_a_time_are_evaluated_at_each_point_once():
    # evaluation_interval 3, delay 4: points 6, 9, 12. Each call brings several values.
    cfg = policy("MedianStopping", evaluation_interval=3, delay_evaluation=4)
    evaluated: dict[str, int] = {}
    good, bad = [1.0] * 12, [0.0] * 12
    bad[5] = 2.0
    # Before 6, b's best (0.0) is below the median of (1.0, 0.0) = 0.5: any evaluation at
    # 1..5 would cut it. From 6 on its best is 2.0, above the median: it is kept.
    for upto in (2, 5, 7, 11, 12):
        assert (
            decide(cfg, "maximize", {"a": good[:upto], "b": bad[:upto]}, evaluated=evaluated) == {}
        )
    assert evaluated == {"a": 12, "b": 12}
    # c: best 0.0 < median of (1.0, 0.333, 0.0) = 0.333 at the first point, 6; never before.
    evaluated["c"] = 0
    series = {"a": good, "b": bad, "c": [0.0] * 5}
    assert decide(cfg, "maximize", series, active=["c"], evaluated=evaluated) == {}
    series["c"] = [0.0] * 8
    cut = decide(cfg, "maximize", series, active=["c"], evaluated=evaluated)
    assert cut["c"].interval == 6 and cut["c"].cutoff == pytest.approx(1 / 3)
    assert evaluated["c"] == 6
    # Asked again with the same values, nothing is evaluated twice: 7 and 8 are no points.
    assert decide(cfg, "maximize", series, active=["c"], evaluated=evaluated) == {}
    assert evaluated["c"] == 8


def test_median_minimize_cuts_a_run_whose_best_is_above_the_median():
    # Running averages at 2: a 0.15, b 0.35, c 0.6 -> median 0.35; best (min): c 0.5 > 0.35.
    series = {"a": [0.2, 0.1], "b": [0.4, 0.3], "c": [0.7, 0.5]}
    cut = decide(policy("MedianStopping", delay_evaluation=2), "minimize", series)
    assert set(cut) == {"c"} and cut["c"].value == 0.5 and cut["c"].cutoff == pytest.approx(0.35)


def test_truncation_rounds_the_count_down_and_spares_ties_at_the_cutoff():
    cfg = policy("TruncationSelection", truncation_percentage=30, exclude_finished_jobs=False)
    # 7 runs, 30% -> floor(2.1) = 2 cut. Worst first: e 0.1, then d, f tied at 0.2:
    # only e is strictly worse than the worst survivor (0.2); the tie is kept together.
    series = {"a": [0.9], "b": [0.8], "c": [0.7], "d": [0.2], "e": [0.1], "f": [0.2], "g": [0.5]}
    cut = decide(cfg, "maximize", series)
    assert set(cut) == {"e"} and cut["e"].cutoff == 0.2
    # Minimize: the worst are the highest: a 0.9, b 0.8 cut; the worst survivor is c 0.7.
    cut = decide(cfg, "minimize", series)
    assert set(cut) == {"a", "b"} and cut["a"].cutoff == 0.7


def test_truncation_with_exclude_finished_jobs_ranks_only_running_children():
    cfg = policy("TruncationSelection", truncation_percentage=50, exclude_finished_jobs=True)
    series = {"done1": [0.1], "done2": [0.1], "a": [0.9], "b": [0.5]}
    assert set(decide(cfg, "maximize", series, active=["a", "b"])) == {"b"}


@pytest.mark.parametrize(
    ("cfg", "says"),
    [
        ({"name": "Hyperband"}, "Unknown early-termination policy 'Hyperband'"),
        (policy("Bandit"), "exactly one number of slack_factor or slack_amount"),
        (policy("Bandit", slack_factor=0.1, slack_amount=0.2), "exactly one"),
        (policy("TruncationSelection"), "no truncation_percentage"),
        (policy("TruncationSelection", truncation_percentage=100), "from 1 to 99"),
        (policy("MedianStopping", evaluation_interval=0), "evaluation_interval is 0"),
    ],
)
def test_bad_policy_configs_are_refused(cfg, says):
    with pytest.raises(UserErrorException, match=says):
        decide(cfg, "maximize", {"a": [1.0]})


def test_policy_names_match_in_any_case_and_default_never_cuts():
    assert set(decide(policy("bandit", slack_amount=0), "maximize", {"a": [1], "b": [0]})) == {"b"}
    assert decide({"name": "Default"}, "maximize", {"a": [1.0], "b": [0.0]}) == {}
    assert decide({"name": "Default"}, "sideways", {"a": [1.0]}) == {}
