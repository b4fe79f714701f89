"""The agent's sweep loop, driven through the sweeps service with v1's JSON configs (the
public HyperDriveConfig builds the same dicts): real children, real agent, real policy."""

from __future__ import annotations

import io
import json

import pytest

from runyard._entities import ErrorCode, RunStatus
from runyard._services import sweeps
from runyard._services.follow import wait_for_run

pytestmark = pytest.mark.timeout(240)

# Logs "acc" = --lr (a poor --lr is stopped by the policy) and prints its arguments.
SCRIPT = """
import argparse, sys, time
from runyard.core.run import Run
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--bs", type=int)
p.add_argument("--fixed")
a = p.parse_args()
print("ARGS", sys.argv[1:], flush=True)
run = Run.get_context()
# A good run logs 30 values quickly; a poor one keeps logging slowly for a minute, so that
# the good runs soon reach each interval it reaches: the policy must stop it.
poor = a.lr < 0.5
for i in range(300 if poor else 30):
    run.log("acc", a.lr)
    time.sleep(0.2 if poor else 0.05)
"""


def _sweep(space, *, name="GRID", policy=None, total=4, concurrent=2, seed=None):
    generator = {"name": name, "parameter_space": space}
    if seed is not None:
        generator["properties"] = {"seed": seed}
    return {
        "generator_config": generator,
        "primary_metric_config": {"name": "acc", "goal": "maximize"},
        "policy_config": policy or {"name": "Default"},
        "max_total_runs": total,
        "max_concurrent_runs": concurrent,
        "max_duration_minutes": 10080,
        "resume_from": [],
        "resume_child_runs": [],
    }


def _seed_starting_with(space, key, value):
    """A grid seed whose first two children have ``key`` = ``value``."""
    from runyard._services.sweep_sampling import Trial, make_sampler

    generator = {"name": "GRID", "parameter_space": space}
    for seed in range(1000):
        sampler = make_sampler(generator, "maximize", seed)
        trials = []
        for index in range(2):
            trials.append(Trial(index, sampler.sample(index, trials) or {}, None, False))
        if all(t.params[key] == value for t in trials):
            return seed
    raise AssertionError(f"no seed in 0..999 starts the grid with {key}={value}")


def _submit(services, src, sweep):
    return sweeps.submit_sweep(
        services, experiment_name="hd", sweep=sweep, source_directory=src, script="train.py",
        arguments=["--fixed", "x", "--lr", "99"], target="local",
    )  # fmt: skip


def test_a_grid_sweep_runs_every_point_once_and_a_bandit_stops_the_poor_ones(services, source):
    space = {"--lr": ["choice", [[0.1, 0.9]]], "--bs": ["choice", [[16, 32]]]}
    bandit = {
        "name": "Bandit",
        "properties": {"evaluation_interval": 1, "delay_evaluation": 2, "slack_factor": 0.1},
    }
    src = source(**{"train.py": SCRIPT})
    # The base's own --lr clashes with the space: the sweep's value must win (the public
    # API strips it; here the loop appends after it, and argparse takes the last).
    # Two at a time, the two good points first: the poor children start only once a good
    # one has ended and meet its whole series. Racing it in one wave, a poor child could log
    # ahead of every good one on a loaded machine, and Bandit compares only the children
    # that reached the same interval, so it would finish uncut.
    seed = _seed_starting_with(space, "--lr", 0.9)
    info = _submit(services, src, _sweep(space, policy=bandit, total=10, concurrent=2, seed=seed))
    assert info.run_id.startswith("HD_") and info.run_type == "hyperdrive"
    out = io.StringIO()
    done = wait_for_run(services, info.run_id, show_output=True, out=out, poll_interval=0.05)
    assert done.status is RunStatus.COMPLETED, done.error
    kids = sweeps.children(services, info.run_id)
    # Grid: 4 points, each exactly once, then the sweep ends early (max_total_runs=10).
    assert [k.run_id for k in kids] == [f"{info.run_id}_{n}" for n in range(4)]
    points = {json.dumps(sweeps.hyperparameters(k), sort_keys=True) for k in kids}
    assert len(points) == 4
    for kid in kids:
        params = sweeps.hyperparameters(kid)
        args = kid.definition["arguments"]
        assert args[-4:] == ["--lr", str(params["--lr"]), "--bs", str(params["--bs"])]
        if params["--lr"] == 0.1:  # 0.1 < 0.9 / 1.1: stopped at an interval >= the delay
            assert kid.status is RunStatus.CANCELED
            assert kid.error is not None and kid.error.code == ErrorCode.EARLY_TERMINATION
            assert "Canceled by BanditPolicy at interval" in kid.error.message
            assert "cutoff 0.818182 (best 0.9, slack_factor 0.1)" in kid.error.message
            interval = int(kid.error.message.split("at interval ")[1].split(":")[0])
            assert interval >= 2
        else:
            assert kid.status is RunStatus.COMPLETED
    # The parent's tags carry each child's values (v1's get_hyperparameters reads them).
    parent = services.store.get_run(info.run_id)
    for kid in kids:
        tag = parent.tags[f"_aml_system_{kid.run_id}"]
        assert json.loads(tag) == sweeps.hyperparameters(kid)
    ranked = sweeps.ranked_children(services, parent)
    assert ranked[0][1] == 0.9 and sweeps.hyperparameters(ranked[0][0])["--lr"] == 0.9
    text = out.getvalue()
    assert "Streaming azureml-logs/hyperdrive.txt" in text
    assert "BanditPolicy" in text and "Best run so far" in text and "Sweep ended Completed" in text
    best = services.store.get_metrics(info.run_id)["best_child_by_primary_metric"].values
    assert best[-1]["final"] is True and best[-1]["metric_value"] == 0.9
    # `runyard runs show HD_...` summarises the sweep.
    from typer.testing import CliRunner

    from runyard.cli import app

    shown = CliRunner().invoke(app, ["runs", "show", info.run_id, "-w", "test-ws"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)["sweep"]
    assert summary["primary_metric"] == "acc" and summary["goal"] == "maximize"
    assert summary["best_run"]["best_primary_metric"] == 0.9
    assert summary["best_run"]["hyperparameters"]["--lr"] == 0.9
    assert {c["run_id"] for c in summary["children"]} == {k.run_id for k in kids}
    assert {c["status"] for c in summary["children"]} == {"Completed", "Canceled"}


def test_random_sampling_with_a_seed_repeats_and_concurrency_is_bounded(services, source):
    space = {"--lr": ["uniform", [0.6, 1.0]], "--bs": ["randint", [100]]}
    src = source(**{"train.py": SCRIPT})
    values = []
    for _ in range(2):
        info = _submit(services, src, _sweep(space, name="RANDOM", total=3, concurrent=1, seed=7))
        done = wait_for_run(
            services, info.run_id, show_output=False, out=io.StringIO(), poll_interval=0.05
        )
        assert done.status is RunStatus.COMPLETED, done.error
        kids = sweeps.children(services, info.run_id)
        assert len(kids) == 3 and all(k.status is RunStatus.COMPLETED for k in kids)
        # max_concurrent_runs=1: each child started after the one before had ended.
        for before, after in zip(kids, kids[1:], strict=False):
            assert after.start_time >= before.end_time
        values.append([sweeps.hyperparameters(k) for k in kids])
    assert values[0] == values[1]  # same seed, same sweep


def test_canceling_a_sweep_cancels_its_children_and_starts_no_more(services, source):
    from runyard._services.jobs import cancel_run

    space = {"--lr": ["choice", [[0.1, 0.2, 0.3, 0.4]]]}  # every child lingers
    src = source(**{"train.py": SCRIPT})
    info = _submit(services, src, _sweep(space, total=4, concurrent=2))
    deadline_kids = []

    def two_running():
        kids = sweeps.children(services, info.run_id)
        deadline_kids[:] = kids
        return len(kids) == 2 and all(k.status is RunStatus.RUNNING for k in kids)

    from tests.conftest import _wait_until

    _wait_until(two_running, 60, "two children running")
    cancel_run(services, info.run_id)
    done = wait_for_run(services, info.run_id, show_output=False, out=io.StringIO())
    assert done.status is RunStatus.CANCELED
    kids = sweeps.children(services, info.run_id)
    assert len(kids) == 2 and all(k.status is RunStatus.CANCELED for k in kids)


QUICK = """
import argparse, time
from runyard.core.run import Run
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
a, _ = p.parse_known_args()
run = Run.get_context()
run.log("acc", a.lr)
time.sleep(1.0)
run.log("acc", a.lr)
"""


def test_a_sweep_survives_its_agent_killed_and_starts_no_child_twice(services, source):
    import os
    import signal

    from runyard._services.agent_client import agent_pid
    from tests.conftest import _wait_until

    space = {"--lr": ["choice", [[0.1, 0.2, 0.3, 0.4]]]}
    src = source(**{"train.py": QUICK})
    info = _submit(services, src, _sweep(space, total=4, concurrent=1))

    def second_running():
        kids = sweeps.children(services, info.run_id)
        return len(kids) == 2 and kids[1].status is RunStatus.RUNNING

    _wait_until(second_running, 60, "the second child running")
    pid = agent_pid(services.layout)
    assert pid
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: agent_pid(services.layout) is None, 30, "the agent gone")
    # Waiting brings a new agent up: it reconciles the child and carries the sweep on.
    done = wait_for_run(services, info.run_id, show_output=False, out=io.StringIO())
    assert done.status is RunStatus.COMPLETED, done.error
    kids = sweeps.children(services, info.run_id)
    assert [k.run_id for k in kids] == [f"{info.run_id}_{n}" for n in range(4)]
    lrs = sorted(sweeps.hyperparameters(k)["--lr"] for k in kids)
    assert lrs == [0.1, 0.2, 0.3, 0.4]  # every grid point once, none twice
    assert all(k.status.is_terminal() for k in kids)
    parent = services.store.get_run(info.run_id)
    assert all(f"_aml_system_{k.run_id}" in parent.tags for k in kids)
