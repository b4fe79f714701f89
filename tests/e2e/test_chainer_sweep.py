"""A HyperDrive sweep of the Chainer tutorial on the bundled digits, as v1 code writes it:
the article's set-up (runyard/quickstart/chainer_article.py), its estimator wrapped in a
Grid sweep over the hidden units, 4 children at once on 'gpu-cluster', BanditPolicy on
Accuracy (maximised), then the best child's model registered."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runyard.compat import hook

pytestmark = pytest.mark.timeout(900)

EPOCHS = 30  # a poor child outlives its cut by many epochs, so the cancel catches it running
GOOD_UNITS = (100, 150, 200, 300)  # on the digits: within 10% of one another from epoch 2 on
POOR_UNITS = (1, 2)  # Accuracy stays under 0.3
SLACK_FACTOR = 0.1
DELAY = 2  # at epoch 1 the 100 units (0.61) trail the 200 (0.72) by more than the slack
MESSAGE = re.compile(
    r"Canceled by BanditPolicy at interval (?P<n>\d+): Accuracy (?P<x>\S+) < cutoff "
    rf"(?P<cutoff>\S+) \(best (?P<best>\S+), slack_factor {re.escape(f'{SLACK_FACTOR:g}')}\)"
)


@pytest.fixture
def cached_envs(runyard_home: Path, persistent_envs_dir: Path, job_uv_cache: Path) -> Path:
    """This home's env cache is the one tests/envs and tests/train keep, so the curated
    Chainer environment (numpy, pytest) is built once per machine, not per test."""
    shared = persistent_envs_dir / "home" / "envs"
    shared.mkdir(parents=True, exist_ok=True)
    runyard_home.mkdir(parents=True, exist_ok=True)
    (runyard_home / "envs").symlink_to(shared, target_is_directory=True)
    return shared


@pytest.fixture
def article(cached_envs: Path, tmp_path: Path) -> tuple[Any, Any, Any]:
    """(workspace, experiment, Chainer estimator): the article's cells up to the submit."""
    hook.install()
    from azureml.core import Dataset, Experiment, Workspace
    from azureml.core.compute import AmlCompute, ComputeTarget
    from azureml.opendatasets import MNIST
    from azureml.train.dnn import Chainer

    from runyard.quickstart.chainer_article import SCRIPT

    project = tmp_path / "project"
    project.mkdir()
    config = {"subscription_id": "0", "resource_group": "rg", "workspace_name": "sweep"}
    (project / "config.json").write_text(json.dumps(config))
    ws = Workspace.from_config(path=str(project))
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir=str(MNIST.get_local_path()), target_path="mnist", overwrite=True)
    dataset = Dataset.File.from_files(path=(datastore, "mnist/**"))
    dataset = dataset.register(ws, name="mnist-chainer", create_new_version=True)
    provisioning = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
    compute_target = ComputeTarget.create(ws, "gpu-cluster", provisioning)
    compute_target.wait_for_completion(show_output=False)
    project_folder = project / "chainer-mnist"
    project_folder.mkdir()
    shutil.copy(SCRIPT, project_folder)
    estimator = Chainer(
        source_directory=str(project_folder),
        script_params={
            "--data-folder": dataset.as_named_input("mnist").as_mount(),
            "--epochs": EPOCHS,
            "--batchsize": 128,
            "--output_dir": "./outputs",
        },
        compute_target=compute_target,
        pip_packages=["numpy", "pytest"],
        entry_script="chainer_mnist.py",
        use_gpu=True,
    )
    return ws, Experiment(ws, name="chainer-mnist"), estimator


def _seed_starting_good_units_first(sampling_json: Mapping[str, Any]) -> int:
    """A grid seed whose first max_concurrent_runs children are the good units: the poor
    ones then start only once a good child has ended, and meet its whole series (in the
    first wave they would race the good ones, and may log ahead of them and finish uncut)."""
    from runyard._services.sweep_sampling import Trial, make_sampler

    for seed in range(1000):
        sampler = make_sampler(sampling_json, "maximize", seed)
        trials: list[Trial] = []
        for index in range(len(GOOD_UNITS)):
            trials.append(Trial(index, sampler.sample(index, trials) or {}, None, False))
        if {t.params["--unit"] for t in trials} == set(GOOD_UNITS):
            return seed
    raise AssertionError("no seed in 0..999 puts the good units first")


@dataclass(frozen=True)
class Child:
    """One child of the sweep, as the public API reports it."""

    run_id: str
    unit: int
    status: str
    accuracy: list[float]
    start: datetime
    end: datetime
    error: dict[str, str] | None  # v1's details["error"]["error"]: code and message


def _children(hd_run: Any) -> list[Child]:
    """The sweep's children in child order (HD_<guid>_0, _1, ...)."""
    units = {rid: json.loads(p)["--unit"] for rid, p in hd_run.get_hyperparameters().items()}
    metrics = hd_run.get_metrics()
    children = []
    for child in hd_run.get_children():
        details = child.get_details()
        assert details["runDefinition"]["arguments"][-2:] == ["--unit", str(units[child.id])]
        values = metrics[child.id].get("Accuracy", [])  # one value: a scalar, as in v1
        children.append(
            Child(
                run_id=child.id,
                unit=units[child.id],
                status=details["status"],
                accuracy=[float(v) for v in (values if isinstance(values, list) else [values])],
                start=datetime.fromisoformat(details["startTimeUtc"]),
                end=datetime.fromisoformat(details["endTimeUtc"]),
                error=details["error"]["error"] if "error" in details else None,
            )
        )
    return sorted(children, key=lambda c: int(c.run_id.rsplit("_", 1)[1]))


def _at(children: Sequence[Child], n: int) -> list[float]:
    """The children's Accuracy at interval n (their n-th value), of those that reached n."""
    return [c.accuracy[n - 1] for c in children if len(c.accuracy) >= n]


def _check_cut(child: Child, children: Sequence[Child]) -> int:
    """The cut named in a Canceled child's error is the policy's rule applied to the
    logged values; returns its interval."""
    assert child.error is not None and child.error["code"] == "EarlyTermination", child
    message = child.error["message"]
    match = MESSAGE.fullmatch(message)
    assert match, message
    n, values = int(match["n"]), child.accuracy
    assert DELAY <= n <= len(values), message
    assert match["x"] == f"{values[n - 1]:g}", (message, values)
    # best: the best value at n of the children that had reached n when the policy looked;
    # more may have reached n since, so it is one of the values at n, not always the max.
    holders = [v for v in _at(children, n) if f"{v:g}" == match["best"]]
    assert holders, (message, _at(children, n))
    cutoff = holders[0] / (1 + SLACK_FACTOR)
    assert match["cutoff"] == f"{cutoff:g}" and values[n - 1] < cutoff, message
    # Its intervals before n were evaluated and did not cut it, so none was below the cutoff
    # of the children that had ended before it started (all their values were in the store).
    ended = [c for c in children if c.end < child.start]
    for k in range(DELAY, n):
        if _at(ended, k):
            assert values[k - 1] >= max(_at(ended, k)) / (1 + SLACK_FACTOR), (k, message)
    return n


def _never_below_slack(child: Child, children: Sequence[Child]) -> bool:
    """At every interval the policy evaluates, within the slack of every child's value
    there: of any best the policy can have seen, so the policy cannot cut this child."""
    return all(
        child.accuracy[n - 1] >= max(_at(children, n)) / (1 + SLACK_FACTOR)
        for n in range(DELAY, len(child.accuracy) + 1)
    )


def _submit(experiment: Any, estimator: Any) -> Any:
    """The sweep: Grid over the units, Bandit on Accuracy (maximised), 4 children at once."""
    from azureml.train.hyperdrive import (
        BanditPolicy,
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    space = {"--unit": choice(*GOOD_UNITS, *POOR_UNITS)}
    seed = _seed_starting_good_units_first(GridParameterSampling(space).to_json())
    policy = BanditPolicy(evaluation_interval=1, slack_factor=SLACK_FACTOR, delay_evaluation=DELAY)
    hd_config = HyperDriveConfig(
        estimator=estimator,
        hyperparameter_sampling=GridParameterSampling(space, properties={"seed": seed}),
        primary_metric_name="Accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        policy=policy,
        max_total_runs=len(GOOD_UNITS) + len(POOR_UNITS),
        max_concurrent_runs=4,
    )
    return experiment.submit(hd_config)


def test_bandit_chainer_sweep_stops_poor_units_and_registers_the_best_child(
    article, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from azureml.core import Model

    ws, experiment, estimator = article
    hd_run = _submit(experiment, estimator)
    hd_run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert hd_run.get_status() == "Completed", out
    children = _children(hd_run)
    assert [c.run_id for c in children] == [f"{hd_run.id}_{n}" for n in range(6)]
    first, then = children[:4], children[4:]
    assert sorted(c.unit for c in first) == sorted(GOOD_UNITS)  # the seed's order
    assert sorted(c.unit for c in then) == sorted(POOR_UNITS)

    # 4 at once: the first four all ran before any ended, and no fifth ran beside them.
    assert max(c.start for c in first) < min(c.end for c in first)
    for child in then:
        assert sum(1 for c in children if c.start < child.start < c.end) < 4

    for child in children:
        assert child.status in ("Completed", "Canceled"), child
        if child.status == "Completed":
            assert len(child.accuracy) == EPOCHS and child.error is None, child
        else:
            _check_cut(child, children)
            assert f"{child.run_id}: {child.error['message']}" in out  # in the sweep log
            assert len(child.accuracy) < EPOCHS, child  # stopped early, not only marked
        if _never_below_slack(child, children):
            assert child.status == "Completed", child
    assert all(_never_below_slack(c, children) for c in first), first
    # The poor units started after a good child had ended, so at their first evaluated
    # interval they met its value, and were stopped right there.
    for child in then:
        assert child.status == "Canceled", child
        assert _check_cut(child, children) == DELAY, child

    best_value = max(max(c.accuracy) for c in children)
    best = hd_run.get_best_run_by_primary_metric()
    by_id = {c.run_id: c for c in children}
    assert max(by_id[best.id].accuracy) == best_value and by_id[best.id].status == "Completed"
    ranked = hd_run.get_children_sorted_by_primary_metric()
    assert ranked[0]["run_id"] == best.id and ranked[0]["best_primary_metric"] == best_value
    assert json.loads(ranked[0]["hyperparameters"]) == {"--unit": by_id[best.id].unit}
    arguments = best.get_details()["runDefinition"]["arguments"]
    assert arguments[arguments.index("--unit") + 1] == str(by_id[best.id].unit)

    model = best.register_model(model_name="chainer-dnn-mnist", model_path="outputs/model.npz")
    assert model.id == "chainer-dnn-mnist:1" and model.run_id == best.id
    registered = Model(ws, "chainer-dnn-mnist")
    assert registered.run_id == best.id
    path = Path(registered.download(target_dir=str(tmp_path / "model")))
    with np.load(path) as weights:  # the best child's network
        assert weights["l1/W"].shape == (by_id[best.id].unit, 784)
