"""HyperDrive's public configuration: v1's JSON forms, its checks and messages, and that an
invalid configuration is refused before anything is stored or run."""

from __future__ import annotations

import warnings

import pytest

from runyard.exceptions import HyperDriveConfigException, UserErrorException
from runyard.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveRunConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from runyard.train.hyperdrive.runconfig import _remove_clashing_arguments

MAX = PrimaryMetricGoal.MAXIMIZE


@pytest.fixture
def src(tmp_path):
    from runyard.core import ScriptRunConfig

    (tmp_path / "train.py").write_text("print('hi')\n")
    return ScriptRunConfig(source_directory=str(tmp_path), script="train.py")


def _config(src, sampling=None, **kwargs):
    kwargs.setdefault("primary_metric_name", "acc")
    kwargs.setdefault("primary_metric_goal", MAX)
    kwargs.setdefault("max_total_runs", 4)
    kwargs.setdefault(
        "hyperparameter_sampling", sampling or RandomParameterSampling({"--lr": uniform(0, 1)})
    )
    return HyperDriveConfig(run_config=src, **kwargs)


# ---- expressions -----------------------------------------------------------------------------
def test_the_ten_expressions_give_v1s_json():
    assert choice(1, 2, 3) == ["choice", [[1, 2, 3]]]
    assert choice([1, 2]) == ["choice", [[1, 2]]]
    assert choice(range(3)) == ["choice", [[0, 1, 2]]]
    assert choice("a") == ["choice", [["a"]]]
    assert randint(5) == ["randint", [5]]
    assert uniform(0, 1.5) == ["uniform", [0, 1.5]]
    assert quniform(16, 128, 16) == ["quniform", [16, 128, 16]]
    assert loguniform(-6, -1) == ["loguniform", [-6, -1]]
    assert qloguniform(0, 5, 2.0) == ["qloguniform", [0, 5, 2.0]]
    assert normal(0, 1) == ["normal", [0, 1]]
    assert qnormal(10, 3, 2) == ["qnormal", [10, 3, 2]]
    assert lognormal(0, 0.5) == ["lognormal", [0, 0.5]]
    assert qlognormal(1, 0.5, 1) == ["qlognormal", [1, 0.5, 1]]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: choice(), "Please specify an input for choice."),
        (lambda: choice([]), "choice expects non-empty single list"),
        (lambda: choice([1], 2), "choice expects non-empty single list"),
        (lambda: choice(range(0)), "choice expects non-empty single list"),
        (lambda: randint(0), "randint expects a positive number as input"),
        (lambda: randint(2.5), "randint expects a positive number as input"),
        (lambda: uniform(1, 1), "uniform expects min_value < max_value"),
        (lambda: uniform("a", 1), "uniform expects min_value to be a float"),
        (lambda: quniform(0, 10, 0.5), "quniform expects q to be an int"),
        (lambda: loguniform(2, 1), "loguniform expects min_value <= max_value"),
        (lambda: qloguniform(0, 1, "q"), "qloguniform expects q to be an int"),
        (lambda: normal(0, -1), "normal expects sigma to be non negative"),
        (lambda: qnormal(0, 1, 1.5), "qnormal expects q to be an int"),
        (lambda: lognormal(0, "s"), "lognormal expects sigma to be a float"),
        (lambda: qlognormal(0, -0.1, 1), "qlognormal expects sigma to be non negative"),
    ],
)
def test_bad_expression_arguments_are_refused_with_v1s_message(call, message):
    with pytest.raises(HyperDriveConfigException, match="^" + message.replace("(", r"\(")):
        call()


# ---- samplings ---------------------------------------------------------------------------------
def test_samplings_give_v1s_json_and_keep_a_seed():
    space = {"--lr": uniform(0.01, 0.1), "--bs": choice(16, 32)}
    assert RandomParameterSampling(space).to_json() == {"name": "RANDOM", "parameter_space": space}
    seeded = RandomParameterSampling(space, properties={"seed": 7}).to_json()
    assert seeded["properties"] == {"seed": 7}
    assert GridParameterSampling({"--bs": choice(16, 32)}).to_json()["name"] == "GRID"
    bayes = BayesianParameterSampling({"--lr": uniform(0, 1), "--n": quniform(1, 10, 1)})
    assert bayes.to_json()["name"] == "BayesianOptimization"
    assert RandomParameterSampling(space) == RandomParameterSampling(dict(space))


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: GridParameterSampling({"--lr": uniform(0, 1)}),
            r"This sampling method expects only the following distributions: \[choice\]. "
            r"'--lr' is uniform\(\); use choice\(\) listing the values",
        ),
        (
            lambda: BayesianParameterSampling({"--lr": loguniform(-3, -1)}),
            r"This sampling method expects only the following distributions: \[choice, "
            r"quniform, uniform\]",
        ),
        (
            lambda: BayesianParameterSampling({"--n": quniform(0.5, 10, 1)}),
            "Expected quniform arguments to be int",
        ),
        (
            lambda: BayesianParameterSampling({"--n": quniform(0, 10**7, 1)}),
            "Too many discrete points for quniform distribution",
        ),
        (
            lambda: BayesianParameterSampling({"--o": choice("a", 1)}),
            "Either all or none of the 'choice' values should be 'str' type",
        ),
        (lambda: BayesianParameterSampling(None), "parameter_space to not be None"),
        (lambda: RandomParameterSampling({}), "parameter_space to be a non-empty dict"),
        (lambda: RandomParameterSampling({"--lr": 0.1}), r"not a parameter expression.*choice"),
        (lambda: RandomParameterSampling({1: choice(1)}), "keys are the script's argument"),
        (
            lambda: RandomParameterSampling({"--lr": choice(1)}, properties={"seed": "x"}),
            r"properties\['seed'\] is 'x'; it must be a non-negative int",
        ),
    ],
)
def test_invalid_samplings_are_refused_when_built(build, message):
    with pytest.raises(HyperDriveConfigException, match=message):
        build()


# ---- policies ----------------------------------------------------------------------------------
def test_policies_give_v1s_json():
    assert BanditPolicy(slack_factor=0.1).to_json() == {
        "name": "Bandit",
        "properties": {"evaluation_interval": 1, "delay_evaluation": 0, "slack_factor": 0.1},
    }
    amount = BanditPolicy(evaluation_interval=2, slack_amount=0.2, delay_evaluation=5)
    assert amount.to_json()["properties"] == {
        "evaluation_interval": 2, "delay_evaluation": 5, "slack_amount": 0.2,
    }  # fmt: skip
    assert amount.slack_factor is None and amount.delay_evaluation == 5
    assert MedianStoppingPolicy(delay_evaluation=5).to_json() == {
        "name": "MedianStopping",
        "properties": {"evaluation_interval": 1, "delay_evaluation": 5},
    }
    assert TruncationSelectionPolicy(20).to_json() == {
        "name": "TruncationSelection",
        "properties": {
            "evaluation_interval": 1, "delay_evaluation": 0, "truncation_percentage": 20,
            "exclude_finished_jobs": False,
        },
    }  # fmt: skip
    assert NoTerminationPolicy().to_json() == {"name": "Default"}


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: BanditPolicy(slack_factor=0.1, slack_amount=0.2),
            "Bandit termination policy expects exactly one of slack factor or slack amount to "
            "be set. Pass slack_factor=0.1",
        ),
        (lambda: BanditPolicy(), "exactly one of slack factor or slack amount"),
        (lambda: BanditPolicy(slack_factor=-1), "slack_factor to be a number >= 0"),
        (lambda: BanditPolicy(evaluation_interval=1.5, slack_factor=0.1), "int for eval"),
        (lambda: MedianStoppingPolicy(delay_evaluation="5"), "int for delay_evaluation"),
        (lambda: TruncationSelectionPolicy(0), "truncation_percentage expects value to be between"),
        (lambda: TruncationSelectionPolicy(100), "between 1 and 99"),
        (lambda: TruncationSelectionPolicy(20.5), "Expected type int for truncation_percentage"),
    ],
)  # fmt: skip
def test_invalid_policies_are_refused_when_built(build, message):
    with pytest.raises(HyperDriveConfigException, match=message):
        build()


# ---- HyperDriveConfig ------------------------------------------------------------------------
def test_defaults_and_v1s_serialized_parts(src):
    config = _config(src, max_total_runs=6)
    assert config._max_concurrent_runs == 6  # None means max_total_runs
    assert config._policy_config == {"name": "Default"}  # policy=None
    assert config._primary_metric_config == {"name": "acc", "goal": "maximize"}
    assert config._max_duration_minutes == 10080
    assert config.run_config is src and config.estimator is None
    assert config.source_directory == src.source_directory
    minimize = _config(src, primary_metric_goal=PrimaryMetricGoal.MINIMIZE, max_concurrent_runs=2)
    assert minimize._primary_metric_config["goal"] == "minimize"
    assert minimize._sweep_definition()["max_concurrent_runs"] == 2
    assert PrimaryMetricGoal.from_str("maximize") is MAX
    with pytest.raises(HyperDriveConfigException, match="either 'maximize' or 'minimize'"):
        PrimaryMetricGoal.from_str("up")


def test_max_duration_is_clamped_with_a_warning(src):
    with pytest.warns(UserWarning, match="exceeds the service limit of 10080 minutes") as seen:
        config = _config(src, max_duration_minutes=20000)
    assert config._max_duration_minutes == 10080
    assert seen[0].filename == __file__  # the warning points at the user's line


def test_bayesian_warns_on_few_runs_and_high_concurrency(src):
    space = BayesianParameterSampling({"--lr": uniform(0, 1), "--m": uniform(0, 1)})
    with pytest.warns(UserWarning) as seen:
        _config(src, space, max_total_runs=30, max_concurrent_runs=25)
    text = " ".join(str(w.message) for w in seen)
    assert "Recommendend value:40" in text and "20 max concurrent runs or fewer" in text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"primary_metric_name": ""}, "primary_metric_name to be a non-empty string"),
        ({"primary_metric_name": None}, "primary_metric_name to be a non-empty string"),
        ({"primary_metric_goal": "best"}, "either 'maximize' or 'minimize'"),
        ({"max_total_runs": 0}, "max_total_runs to be a positive int"),
        ({"max_concurrent_runs": -1}, "max_concurrent_runs to be a positive int"),
        ({"policy": "bandit"}, "Expected type EarlyTerminationPolicy for policy"),
        ({"hyperparameter_sampling": {"--lr": choice(1)}}, "Expected type HyperParameterSampling"),
        ({"pipeline": object()}, "only one of estimator, run_config, pipeline"),
    ],
)
def test_invalid_hyperdrive_configs_are_refused(src, kwargs, message):
    with pytest.raises(HyperDriveConfigException, match=message):
        _config(src, **kwargs)


def test_exactly_one_training_run_is_needed(src):
    sampling = RandomParameterSampling({"--lr": uniform(0, 1)})
    common = dict(hyperparameter_sampling=sampling, primary_metric_name="acc",
                  primary_metric_goal=MAX, max_total_runs=2)  # fmt: skip
    with pytest.raises(HyperDriveConfigException, match="at least one of estimator, run_config"):
        HyperDriveConfig(**common)
    with pytest.raises(HyperDriveConfigException, match="Expected type ScriptRunConfig"):
        HyperDriveConfig(run_config="train.py", **common)
    with pytest.raises(HyperDriveConfigException, match="only one of estimator, run_config"):
        HyperDriveConfig(run_config=src, estimator=src, **common)


def test_bayesian_sampling_takes_no_policy(src):
    sampling = BayesianParameterSampling({"--lr": uniform(0, 1)})
    with pytest.raises(
        HyperDriveConfigException,
        match="BayesianParameterSampling does not support early termination policies "
        r"\(got BanditPolicy\). Pass policy=None",
    ):
        _config(src, sampling, max_total_runs=20, policy=BanditPolicy(slack_factor=0.1))
    _config(src, sampling, max_total_runs=20, policy=NoTerminationPolicy())


def test_hyperdrive_run_config_is_deprecated_and_builds_a_config(tmp_path):
    from runyard.train.estimator import Estimator

    (tmp_path / "train.py").write_text("")
    est = Estimator(source_directory=str(tmp_path), entry_script="train.py", compute_target="local")
    with pytest.warns(UserWarning, match="HyperDriveRunConfig is deprecated"):
        config = HyperDriveRunConfig(
            est, RandomParameterSampling({"--lr": uniform(0, 1)}), "acc", MAX, 3
        )
    assert type(config) is HyperDriveConfig and config.estimator is est


def test_rehydration_gives_back_the_same_configuration(src):
    policy = TruncationSelectionPolicy(25, evaluation_interval=2, delay_evaluation=3)
    sampling = RandomParameterSampling({"--lr": uniform(0, 1)}, properties={"seed": 3})
    config = _config(src, sampling, policy=policy, max_concurrent_runs=2)
    again = HyperDriveConfig._from_sweep_definition(config._sweep_definition())
    assert again._sweep_definition() == config._sweep_definition()
    assert again.run_config is None and again.source_directory is None


# ---- clashing arguments --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "arguments, kept",
    [
        (["--lr", "0.1", "--epochs", "3"], ["--epochs", "3"]),
        (["--lr", 0.1, "--epochs", 3], ["--epochs", 3]),
        (["--lr=0.1", "--epochs", "3"], ["--epochs", "3"]),
        (["-lr", "-0.5", "--x"], ["--x"]),  # leading dashes ignored; a negative value goes too
        (["--lr", "--verbose"], ["--verbose"]),  # a flag without a value
        (["lr", "0.1"], ["lr", "0.1"]),  # positional: not an option
    ],
)
def test_arguments_clashing_with_the_space_are_removed_with_a_warning(arguments, kept):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert _remove_clashing_arguments(arguments, {"--lr": uniform(0, 1)}) == kept
    removed = kept != arguments
    assert bool(seen) == removed
    if removed:
        assert "HyperDrive parameter space definition will override" in str(seen[0].message)


# ---- refused at submit, nothing stored ---------------------------------------------------------
def test_an_invalid_sweep_is_refused_at_submit_and_nothing_is_stored(ws, tmp_path):
    from runyard.core import Experiment, ScriptRunConfig

    experiment = Experiment(ws, "hd-invalid")
    missing = ScriptRunConfig(source_directory=str(tmp_path), script="nope.py")
    config = _config(missing)
    with pytest.raises(UserErrorException, match="Script 'nope.py' was not found"):
        experiment.submit(config)
    with pytest.raises(HyperDriveConfigException, match="unexpected arguments"):
        experiment.submit(config, script_params={"--x": 1})
    # A definition the public classes would not build is refused by the service too.
    (tmp_path / "train.py").write_text("")
    config = _config(ScriptRunConfig(source_directory=str(tmp_path), script="train.py"))
    config._generator_config = {"name": "GRID", "parameter_space": {"--lr": uniform(0, 1)}}
    with pytest.raises(UserErrorException, match="GridParameterSampling takes only choice"):
        experiment.submit(config)
    config._generator_config = {"name": "RANDOM", "parameter_space": {"--lr": uniform(0, 1)}}
    config._policy_config = {"name": "Bandit", "properties": {"slack_factor": 0.1,
                                                             "slack_amount": 0.1}}  # fmt: skip
    with pytest.raises(UserErrorException, match="exactly one number of slack_factor"):
        experiment.submit(config)
    assert ws._services.store.list_runs() == []


def test_v1_import_paths_resolve_to_runyard():
    import importlib

    from runyard.compat import hook

    hook.install()
    names = {
        "azureml.train.hyperdrive": ["HyperDriveConfig", "HyperDriveRun", "choice", "BanditPolicy"],
        "azureml.train.hyperdrive.runconfig": ["HyperDriveConfig", "PrimaryMetricGoal"],
        "azureml.train.hyperdrive.sampling": ["RandomParameterSampling", "HyperParameterSampling"],
        "azureml.train.hyperdrive.policy": ["EarlyTerminationPolicy", "TruncationSelectionPolicy"],
        "azureml.train.hyperdrive.run": ["HyperDriveRun", "PrimaryMetricGoal"],
        "azureml.train.hyperdrive.parameter_expressions": ["qlognormal", "randint"],
        "azureml.train.hyperdrive.exceptions": ["HyperDriveConfigException"],
    }
    for module, wanted in names.items():
        loaded = importlib.import_module(module)
        assert loaded.__name__.startswith("runyard.train.hyperdrive")
        for name in wanted:
            assert hasattr(loaded, name), (module, name)
