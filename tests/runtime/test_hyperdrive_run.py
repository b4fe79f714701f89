"""HyperDrive through the public API, as v1 code writes it (azureml.* names): real agent,
real children. The loop's policy and recovery are in test_sweeps.py; here the SDK side."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

from runyard.compat import hook

pytestmark = pytest.mark.timeout(240)

SCRIPT = """
import argparse, os, sys
from azureml.core import Run
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=1.0)
p.add_argument("--bs", type=int, default=1)
p.add_argument("--fixed")
p.add_argument("--resume-from", dest="resume_from")
p.add_argument("--metric", default="acc")
a = p.parse_args()
print("ARGS", sys.argv[1:], flush=True)
run = Run.get_context()
os.makedirs("outputs", exist_ok=True)
if a.resume_from:
    with open(os.path.join(a.resume_from, "model.txt")) as f:
        print("RESUMED", f.read(), flush=True)
    run.log("resumed", 1)
with open("outputs/model.txt", "w") as f:
    f.write(f"lr={a.lr} bs={a.bs}")
for i in range(3):
    run.log(a.metric, a.lr * a.bs)
"""


@pytest.fixture
def v1(services, source):
    """(workspace, experiment, ScriptRunConfig) written as v1 code writes them."""
    hook.install()
    from azureml.core import Experiment, ScriptRunConfig, Workspace

    ws = Workspace.get("test-ws")
    src = ScriptRunConfig(
        source_directory=str(source(**{"train.py": SCRIPT})),
        script="train.py",
        arguments=["--fixed", "x"],
    )
    return ws, Experiment(ws, "hd"), src


def _hd(src, sampling, **kwargs):
    from azureml.train.hyperdrive import HyperDriveConfig, PrimaryMetricGoal

    kwargs.setdefault("primary_metric_name", "acc")
    kwargs.setdefault("primary_metric_goal", PrimaryMetricGoal.MAXIMIZE)
    kwargs.setdefault("max_total_runs", 4)
    return HyperDriveConfig(run_config=src, hyperparameter_sampling=sampling, **kwargs)


def test_a_v1_sweep_submits_runs_and_gives_its_results(v1, capsys):
    from azureml.core import Run
    from azureml.train.hyperdrive import (
        BanditPolicy,
        HyperDriveRun,
        RandomParameterSampling,
        choice,
    )

    ws, experiment, src = v1
    src.arguments = ["--fixed", "x", "--lr", 99]  # --lr clashes with the space: removed
    sampling = RandomParameterSampling({"--lr": choice(0.1, 0.5), "--bs": choice(1, 2)})
    config = _hd(
        src, sampling, max_concurrent_runs=2,
        policy=BanditPolicy(evaluation_interval=1, slack_factor=0.1, delay_evaluation=3),
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"\['--lr'\] is the list of overridden"):
        hd_run = experiment.submit(config, tags={"team": "a"})
    assert isinstance(hd_run, HyperDriveRun) and hd_run.type == "hyperdrive"
    assert hd_run.id.startswith("HD_") and hd_run.tags["team"] == "a"
    assert hd_run.hyperdrive_config is config
    hd_run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert "Streaming azureml-logs/hyperdrive.txt" in out and "Best run so far" in out
    assert hd_run.get_status() == "Completed"

    children = list(hd_run.get_children())
    ids = sorted(c.id for c in children)
    assert ids == [f"{hd_run.id}_{n}" for n in range(4)]
    # Random over a finite space of 4 points: no point twice while unused ones remain.
    params = {k: json.loads(v) for k, v in hd_run.get_hyperparameters().items()}
    assert sorted(params) == ids
    assert len({json.dumps(p, sort_keys=True) for p in params.values()}) == 4

    best = hd_run.get_best_run_by_primary_metric()
    assert params[best.id] == {"--lr": 0.5, "--bs": 2}
    arguments = best.get_details()["runDefinition"]["arguments"]
    assert arguments == ["--fixed", "x", "--lr", "0.5", "--bs", "2"]  # the clashing --lr 99 gone
    ranked = hd_run.get_children_sorted_by_primary_metric()
    assert [r["best_primary_metric"] for r in ranked] == [1.0, 0.5, 0.2, 0.1]
    assert ranked[0]["run_id"] == best.id and ranked[0]["status"] == "Completed"
    assert json.loads(ranked[0]["hyperparameters"]) == params[best.id]
    top = hd_run.get_children_sorted_by_primary_metric(top=2, reverse=True)
    assert [r["best_primary_metric"] for r in top] == [0.1, 0.2]
    metrics = hd_run.get_metrics()
    assert sorted(metrics) == ids and metrics[best.id]["acc"] == [1.0, 1.0, 1.0]
    model = best.register_model(model_name="hd-model", model_path="outputs/model.txt")
    assert model.run_id == best.id

    # Reopened, in this process and in a fresh one that never imports hyperdrive itself.
    again = HyperDriveRun(experiment, hd_run.id)
    assert again.get_best_run_by_primary_metric().id == best.id
    assert again.hyperdrive_config._sweep_definition() == config._sweep_definition()
    assert isinstance(Run.get(ws, hd_run.id), HyperDriveRun)
    probe = (
        "import sys; from runyard.core import Run, Workspace; "
        "r = Run.get(Workspace.get('test-ws'), sys.argv[1]); "
        "print(type(r).__name__, r.get_best_run_by_primary_metric().id)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe, hd_run.id], capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == ["HyperDriveRun", best.id]


def test_no_child_logged_the_metric_gives_none_and_names_what_was_logged(v1):
    from azureml.train.hyperdrive import GridParameterSampling, choice

    _, experiment, src = v1
    config = _hd(src, GridParameterSampling({"--metric": choice("loss")}), max_total_runs=1)
    hd_run = experiment.submit(config)
    hd_run.wait_for_completion()
    with pytest.warns(UserWarning, match=r"primary metric 'acc'.*The children logged: \['loss'\]"):
        assert hd_run.get_best_run_by_primary_metric() is None
    ranked = hd_run.get_children_sorted_by_primary_metric()
    assert ranked[0]["best_primary_metric"] is None
    assert hd_run.get_children_sorted_by_primary_metric(discard_no_metric=True) == []


def test_bayesian_sampling_runs_end_to_end(v1):
    from azureml.train.hyperdrive import BayesianParameterSampling, quniform, uniform

    _, experiment, src = v1
    sampling = BayesianParameterSampling({"--lr": uniform(0.1, 1.0), "--bs": quniform(1, 4, 1)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few runs for Bayesian: v1 warns
        config = _hd(src, sampling, max_total_runs=4, max_concurrent_runs=2)
    hd_run = experiment.submit(config)
    hd_run.wait_for_completion()
    assert hd_run.get_status() == "Completed"
    ranked = hd_run.get_children_sorted_by_primary_metric()
    assert len(ranked) == 4 and all(r["status"] == "Completed" for r in ranked)
    for row in ranked:
        values = json.loads(row["hyperparameters"])
        assert 0.1 <= values["--lr"] <= 1.0 and values["--bs"] in (1, 2, 3, 4)
        assert row["best_primary_metric"] == pytest.approx(values["--lr"] * values["--bs"])


def test_warm_start_resume_from_and_resume_child_runs(v1):
    from azureml.core import Run
    from azureml.exceptions import HyperDriveConfigException
    from azureml.train.hyperdrive import GridParameterSampling, PrimaryMetricGoal, choice

    _, experiment, src = v1
    first = experiment.submit(_hd(src, GridParameterSampling({"--lr": choice(0.3, 0.9)})))
    first.wait_for_completion()
    best_first = first.get_best_run_by_primary_metric()
    with pytest.raises(HyperDriveConfigException, match="primary_metric_goal should be the same"):
        _hd(src, GridParameterSampling({"--lr": choice(0.1)}), resume_from=first,
            primary_metric_goal=PrimaryMetricGoal.MINIMIZE)  # fmt: skip
    with pytest.raises(HyperDriveConfigException, match="not exceed than 5"):
        _hd(src, GridParameterSampling({"--lr": choice(0.1)}), resume_from=[first] * 6)

    worst = first.get_children_sorted_by_primary_metric(reverse=True)[0]["run_id"]
    child = Run(experiment, worst)  # lr 0.3: its rerun does not tie with the best (0.9)
    config = _hd(
        src, GridParameterSampling({"--lr": choice(0.1, 0.2)}), max_total_runs=3,
        resume_from=[first], resume_child_runs=[child],
    )  # fmt: skip
    second = experiment.submit(config)
    second.wait_for_completion()
    kids = sorted(second.get_children(), key=lambda r: r.id)
    assert len(kids) == 3
    # Child 0 runs the earlier child again, with --resume-from holding its ./outputs.
    resumed = next(k for k in kids if k.id == f"{second.id}_0")
    old_params = json.loads(first.get_hyperparameters()[child.id])
    assert json.loads(second.get_hyperparameters()[resumed.id]) == old_params
    arguments = resumed.get_details()["runDefinition"]["arguments"]
    assert "--resume-from" in arguments
    log = resumed.get_details_with_logs()["logFiles"]["azureml-logs/70_driver_log.txt"]
    assert f"RESUMED lr={old_params['--lr']} bs=1" in log
    assert resumed.get_metrics()["resumed"] == 1
    # The other children were sampled as usual; the best includes the resumed-from sweep.
    assert second.get_best_run_by_primary_metric().id == best_first.id
    own = second.get_best_run_by_primary_metric(include_resume_from_runs=False)
    assert own.id.startswith(second.id)

    # A sweep still running cannot be resumed from.
    lingering = experiment.submit(_hd(src, GridParameterSampling({"--lr": choice(0.5)})))
    try:
        if lingering.get_status() not in ("Completed", "Canceled"):
            with pytest.raises(HyperDriveConfigException, match="should be completed or canceled"):
                _hd(src, GridParameterSampling({"--lr": choice(0.1)}), resume_from=lingering)
    finally:
        lingering.wait_for_completion()


def test_cancel_ends_the_sweep_and_its_children(v1, wait_until):
    from azureml.core import ScriptRunConfig
    from azureml.train.hyperdrive import GridParameterSampling, HyperDriveRun, choice

    _, experiment, src = v1
    slow = ScriptRunConfig(source_directory=src.source_directory, script="slow.py")
    with open(f"{slow.source_directory}/slow.py", "w") as f:
        f.write("import time\nfrom azureml.core import Run\nr = Run.get_context()\n"
                "for i in range(600):\n    r.log('acc', i)\n    time.sleep(0.1)\n")  # fmt: skip
    hd_run = experiment.submit(
        _hd(slow, GridParameterSampling({"--lr": choice(1, 2, 3)}), max_concurrent_runs=2)
    )
    wait_until(
        lambda: sum(c.get_status() == "Running" for c in hd_run.get_children()) == 2,
        90, "two children running",
    )  # fmt: skip
    assert hd_run.cancel() is True
    hd_run.wait_for_completion(raise_on_error=False)
    assert HyperDriveRun(experiment, hd_run.id).get_status() == "Canceled"
    kids = list(hd_run.get_children())
    assert len(kids) == 2 and {k.get_status() for k in kids} == {"Canceled"}
    from azureml.exceptions import HyperDriveNotImplementedException

    with pytest.raises(HyperDriveNotImplementedException, match="Fail is not implemented"):
        hd_run.fail()


WAIT_FOR_FILE = """
import os, sys, time
from azureml.core import Run
Run.get_context().log("acc", 1)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


def test_a_sweep_on_a_cluster_grows_it_within_max_nodes(v1, services, wait_until):
    from azureml.core import ScriptRunConfig
    from azureml.core.compute import AmlCompute, ComputeTarget
    from azureml.train.hyperdrive import GridParameterSampling, choice

    ws, experiment, src = v1
    cluster = ComputeTarget.create(
        ws, "cpu-cluster", AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2",
                                                                 max_nodes=2),
    )  # fmt: skip
    cluster.wait_for_completion()
    with open(f"{src.source_directory}/wait.py", "w") as f:
        f.write(WAIT_FOR_FILE)
    go = f"{src.source_directory}/go"
    on_cluster = ScriptRunConfig(
        source_directory=src.source_directory, script="wait.py", arguments=[go],
        compute_target=cluster,
    )  # fmt: skip
    hd_run = experiment.submit(
        _hd(on_cluster, GridParameterSampling({"--lr": choice(1, 2, 3)}), max_total_runs=3,
            max_concurrent_runs=3)
    )  # fmt: skip

    def two_nodes_busy_one_queued():
        statuses = sorted(c.get_status() for c in hd_run.get_children())
        counts = cluster.get_status().serialize()["nodeStateCounts"]
        return statuses == ["Queued", "Running", "Running"] and counts["runningNodeCount"] == 2

    wait_until(two_nodes_busy_one_queued, 90, "two children on two nodes, the third queued")
    open(go, "w").close()
    hd_run.wait_for_completion()
    assert {c.get_status() for c in hd_run.get_children()} == {"Completed"}
    sweep_log = hd_run.get_details_with_logs()["logFiles"]["azureml-logs/hyperdrive.txt"]
    assert (
        "Cluster 'cpu-cluster' grows up to 2 nodes for this sweep (node_count 1 x "
        "max_concurrent_runs 3 = 3, max_nodes 2). At most 2 children run at once; raise the "
        "cluster's max_nodes to 3 for 3."
    ) in sweep_log
