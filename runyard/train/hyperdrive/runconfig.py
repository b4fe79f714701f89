"""HyperDriveConfig and PrimaryMetricGoal (v1's ``azureml.train.hyperdrive.runconfig``).

A HyperDriveConfig wraps the training run a user already has (a ScriptRunConfig, or an
estimator) with a sampling, a primary metric, a policy and limits. ``experiment.submit``
hands it to ``HyperDriveRun._submit``; the agent's sweep loop (runyard/_services/
sweep_loop.py) starts and stops the children. Checks that v1's SDK or service makes before
anything runs are made here, when the config is built, with v1's messages and the fix.
"""

from __future__ import annotations

import copy
import enum
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard._reexports import lazy_exports
from runyard.core.script_run_config import ScriptRunConfig
from runyard.exceptions import HyperDriveConfigException
from runyard.exceptions import TrainingException as TrainingException  # v1 import path
from runyard.train.hyperdrive.policy import (
    EarlyTerminationPolicy,
    NoTerminationPolicy,
    _policy_from_dict,
)
from runyard.train.hyperdrive.sampling import (
    BayesianParameterSampling,
    HyperParameterSampling,
    _sampling_from_dict,
)

if TYPE_CHECKING:
    from runyard.core.experiment import Experiment
    from runyard.core.run import Run

__all__ = ["HyperDriveConfig", "HyperDriveRunConfig", "PrimaryMetricGoal"]

MAX_DURATION_MINUTES = 10080  # v1's service limit: a week
RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN = 20
RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN = 20
MAX_PARENT_RUNS = 5
RESUME_FROM_TOTAL_RUNS = 1000
_TERMINAL = ("Completed", "Failed", "Canceled")


class PrimaryMetricGoal(enum.Enum):
    """Whether the primary metric is maximized or minimized."""

    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"

    @staticmethod
    def from_str(goal: str) -> PrimaryMetricGoal:
        for member in PrimaryMetricGoal:
            if isinstance(goal, str) and goal.lower() == member.name.lower():
                return member
        raise HyperDriveConfigException(
            "The primary metric goal expects either 'maximize' or 'minimize'. Got "
            f"{goal!r}; pass PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE."
        )


def _warn(message: str) -> None:
    """A UserWarning pointing at the user's line (the first frame outside runyard)."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level + 1)


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise HyperDriveConfigException(
            f"HyperDriveConfig expects {name} to be a positive int (got {value!r}), e.g. {name}=8."
        )
    return value


class HyperDriveConfig:
    """A hyperparameter sweep over one training run.

    Args:
        hyperparameter_sampling: RandomParameterSampling, GridParameterSampling or
            BayesianParameterSampling.
        primary_metric_name: The metric the children log (``run.log(name, value)``).
        primary_metric_goal: PrimaryMetricGoal.MAXIMIZE or MINIMIZE.
        max_total_runs: How many children at most.
        max_concurrent_runs: How many run at once (None: max_total_runs).
        max_duration_minutes: The sweep stops (its children Canceled) after this long;
            at most 10080.
        policy: An early-termination policy (None: NoTerminationPolicy).
        estimator: The training run as an estimator; or
        run_config: the training run as a ScriptRunConfig (exactly one of the two).
        resume_from: Up to 5 earlier sweeps (HyperDriveRun) whose results seed the sampler.
        resume_child_runs: Earlier children to run again with their hyperparameters; each
            gets ``--resume-from <folder>`` with the earlier run's ./outputs (read only).
    """

    _PLATFORM = "AML"

    def __init__(
        self,
        hyperparameter_sampling: HyperParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal,
        max_total_runs: int,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: int = MAX_DURATION_MINUTES,
        policy: EarlyTerminationPolicy | None = None,
        estimator: Any = None,
        run_config: ScriptRunConfig | None = None,
        resume_from: Any = None,
        resume_child_runs: Any = None,
        pipeline: Any = None,
        debug_flag: Any = None,
        custom_run_id: str | None = None,
    ) -> None:
        given = [n for n, v in [("estimator", estimator), ("run_config", run_config),
                                ("pipeline", pipeline)] if v is not None]  # fmt: skip
        if not given:
            raise HyperDriveConfigException(
                "HyperDriveConfig expects at least one of estimator, run_config, pipeline to "
                "be set. Pass run_config=ScriptRunConfig(...) (or estimator=...) for the "
                "training run to sweep."
            )
        if len(given) != 1:
            raise HyperDriveConfigException(
                "HyperDriveConfig expects only one of estimator, run_config, pipeline to be "
                f"set; got {', '.join(given)}. Keep one of them."
            )
        if pipeline is not None:
            raise HyperDriveConfigException(
                "HyperDriveConfig(pipeline=...) is not supported by Runyard (it has no "
                "pipelines); sweep a ScriptRunConfig with run_config= instead."
            )
        if run_config is not None and not isinstance(run_config, ScriptRunConfig):
            raise HyperDriveConfigException(
                f"Expected type ScriptRunConfig for run_config but got "
                f"{type(run_config).__name__}. Wrap the script as ScriptRunConfig("
                "source_directory='.', script='train.py', ...)."
            )
        if estimator is not None and not hasattr(estimator, "_as_script_run_config"):
            raise HyperDriveConfigException(
                f"HyperDriveConfig expects estimator to be an Estimator (got "
                f"{type(estimator).__name__}); use run_config= for a ScriptRunConfig."
            )
        if hyperparameter_sampling is None:
            raise HyperDriveConfigException(
                "HyperDriveConfig expects hyperparameter_sampling to be set, e.g. "
                "RandomParameterSampling({'--lr': uniform(0.001, 0.1)})."
            )
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            raise HyperDriveConfigException(
                "Expected type HyperParameterSampling for hyperparameter_sampling but got "
                f"{type(hyperparameter_sampling).__name__}; use RandomParameterSampling, "
                "GridParameterSampling or BayesianParameterSampling."
            )
        if not isinstance(primary_metric_name, str) or not primary_metric_name.strip():
            raise HyperDriveConfigException(
                "HyperDriveConfig expects primary_metric_name to be a non-empty string (got "
                f"{primary_metric_name!r}): the name your script logs with run.log(name, "
                "value), e.g. 'Accuracy'."
            )
        if isinstance(primary_metric_goal, str):
            primary_metric_goal = PrimaryMetricGoal.from_str(primary_metric_goal)
        if not isinstance(primary_metric_goal, PrimaryMetricGoal):
            raise HyperDriveConfigException(
                "HyperDriveConfig expects primary_metric_goal to be PrimaryMetricGoal.MAXIMIZE "
                f"or PrimaryMetricGoal.MINIMIZE (got {primary_metric_goal!r})."
            )
        if policy is None:
            policy = NoTerminationPolicy()
        if not isinstance(policy, EarlyTerminationPolicy):
            raise HyperDriveConfigException(
                f"Expected type EarlyTerminationPolicy for policy but got {type(policy).__name__};"
                " use BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy or None."
            )
        is_bayesian = isinstance(hyperparameter_sampling, BayesianParameterSampling)
        if is_bayesian and not isinstance(policy, NoTerminationPolicy):
            raise HyperDriveConfigException(
                f"BayesianParameterSampling does not support early termination policies (got "
                f"{type(policy).__name__}). Pass policy=None, or use RandomParameterSampling "
                "with this policy."
            )
        self._estimator = estimator
        self._run_config = run_config
        self._pipeline = None
        self._debug_flag = debug_flag
        self._custom_run_id = custom_run_id
        self._policy_config = policy.to_json()
        self._generator_config = hyperparameter_sampling.to_json()
        self._primary_metric_config = {
            "name": primary_metric_name,
            "goal": primary_metric_goal.name.lower(),
        }
        self._max_total_runs = _positive_int("max_total_runs", max_total_runs)
        self._max_concurrent_runs = _positive_int(
            "max_concurrent_runs", max_concurrent_runs or max_total_runs
        )
        duration = _positive_int("max_duration_minutes", max_duration_minutes)
        if duration > MAX_DURATION_MINUTES:
            _warn(
                f"The experiment maximum duration provided exceeds the service limit of "
                f"{MAX_DURATION_MINUTES} minutes. The maximum duration will be overridden with "
                f"{MAX_DURATION_MINUTES} minutes."
            )
            duration = MAX_DURATION_MINUTES
        self._max_duration_minutes = duration
        self._platform = self._PLATFORM
        self._platform_config: dict[str, Any] | None = None
        self._is_cloud_hydrate = False
        if is_bayesian:
            self._bayesian_warnings(hyperparameter_sampling)
        self._resume_from = self._checked_resume_from(resume_from, is_bayesian)
        self._resume_child_runs = self._checked_resume_child_runs(resume_child_runs, is_bayesian)

    def _bayesian_warnings(self, sampling: HyperParameterSampling) -> None:
        recommended = RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN * len(sampling._parameter_space)
        if self._max_total_runs < recommended:
            _warn(
                "For best results with Bayesian Sampling we recommend using a maximum number of "
                f"runs greater than or equal to {RECOMMENDED_MIN_RUNS_PER_PARAMETER_BAYESIAN} "
                f"times the number of hyperparameters being tuned. Recommendend value:"
                f"{recommended}."
            )
        if self._max_concurrent_runs > RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN:
            _warn(
                f"We recommend using {RECOMMENDED_MAX_CONCURRENT_RUNS_BAYESIAN} max concurrent "
                "runs or fewer when using Bayesian sampling since a higher number might not "
                "provide the best result."
            )

    # ---- warm start --------------------------------------------------------------------------
    def _checked_resume_from(self, resume_from: Any, is_bayesian: bool) -> list[dict[str, Any]]:
        if resume_from is None:
            return []
        parents = list(resume_from) if isinstance(resume_from, list | tuple) else [resume_from]
        if len(parents) > MAX_PARENT_RUNS:
            raise HyperDriveConfigException(
                f"HyperDriveConfig expects the number of parent runs to not exceed than "
                f"{MAX_PARENT_RUNS}. Got {len(parents)} in resume_from; keep the best "
                f"{MAX_PARENT_RUNS} sweeps."
            )
        seen: set[str] = set()
        total = self._max_total_runs
        for parent in parents:
            self._check_same_sweep(parent, is_bayesian, "resume_from")
            if parent.id in seen:
                raise HyperDriveConfigException(
                    "resume_from cannot contain duplicate runs. More than one run with id "
                    f"'{parent.id}' was found."
                )
            seen.add(parent.id)
            status = parent.get_status()
            if status not in ("Completed", "Canceled"):
                raise HyperDriveConfigException(
                    "All resume_from runs should be completed or canceled. A resume_from run "
                    f"with status '{status}' was found ({parent.id}); wait for it with "
                    "wait_for_completion() or cancel it first."
                )
            total += parent.hyperdrive_config._max_total_runs
        if total > RESUME_FROM_TOTAL_RUNS:
            raise HyperDriveConfigException(
                f"The number of total runs should not be greater than {RESUME_FROM_TOTAL_RUNS}. "
                f"max_total_runs plus the resume_from sweeps' max_total_runs is {total}; lower "
                "max_total_runs or resume from fewer sweeps."
            )
        return [_run_key(parent) for parent in parents]

    def _check_same_sweep(self, parent: Any, is_bayesian: bool, where: str) -> None:
        if getattr(parent, "type", None) != "hyperdrive" or not hasattr(
            parent, "hyperdrive_config"
        ):
            raise HyperDriveConfigException(
                f"Parent run expects to be HyperDriveRun objects; {where} has "
                f"{parent!r:.100}. Reopen a sweep with HyperDriveRun(experiment, 'HD_...')."
            )
        theirs = parent.hyperdrive_config._primary_metric_config
        for key, label in (("name", "primary_metric_name"), ("goal", "primary_metric_goal")):
            if theirs[key] != self._primary_metric_config[key]:
                raise HyperDriveConfigException(
                    f"{label} should be the same for all runs. Current run's {key} is "
                    f"{self._primary_metric_config[key]}, while a run with {theirs[key]} was "
                    f"found ({parent.id})."
                )
        if is_bayesian and (
            parent.hyperdrive_config._generator_config["parameter_space"]
            != self._generator_config["parameter_space"]
        ):
            raise HyperDriveConfigException(
                "parameter_space for Bayesian sampling should be the same for all runs. "
                f"{parent.id} swept another space; resume from sweeps of the same space."
            )

    def _checked_resume_child_runs(
        self, resume_child_runs: Any, is_bayesian: bool
    ) -> list[dict[str, Any]]:
        if resume_child_runs is None:
            return []
        runs = (
            list(resume_child_runs)
            if isinstance(resume_child_runs, list | tuple)
            else [resume_child_runs]
        )
        if len(runs) > self._max_total_runs:
            raise HyperDriveConfigException(
                "HyperDriveConfig expects the number of resume_child_runs to not exceed "
                f"max_total_runs of current run ({len(runs)} > {self._max_total_runs})."
            )
        parents: dict[str, Any] = {}
        seen: set[str] = set()
        for run in runs:
            if not hasattr(run, "get_status") or not hasattr(run, "parent"):
                raise HyperDriveConfigException(
                    f"Expected type azureml.core.run.Run for resume_child_runs but got "
                    f"{type(run).__name__}; pass Run(experiment, 'HD_..._<n>') objects."
                )
            if run.id in seen:
                raise HyperDriveConfigException("resume_child_runs cannot contain duplicate runs.")
            seen.add(run.id)
            status = run.get_status()
            if status not in _TERMINAL:
                raise HyperDriveConfigException(
                    "All resume_child_runs should be in a terminal state. Found a run with "
                    f"state '{status}' ({run.id}); wait for it or cancel it first."
                )
            parent = run.parent
            if parent is None:
                raise HyperDriveConfigException(
                    f"Every run in resume_child_runs should have a parent run; {run.id} has "
                    "none. Pass children of a sweep (HD_<guid>_<n>)."
                )
            parents[parent.id] = _as_sweep(parent)
        if len(parents) > MAX_PARENT_RUNS:
            raise HyperDriveConfigException(
                f"resume_child_runs should not come from more than {MAX_PARENT_RUNS} unique "
                f"parents. {len(parents)} unique parents were found."
            )
        for parent in parents.values():
            self._check_same_sweep(parent, is_bayesian, "resume_child_runs' parents")
        return [_run_key(run) for run in runs]

    # ---- v1's properties -----------------------------------------------------------------------
    @property
    def estimator(self) -> Any:
        return self._estimator

    @property
    def run_config(self) -> ScriptRunConfig | None:
        return self._run_config

    @property
    def pipeline(self) -> Any:
        return self._pipeline

    @property
    def source_directory(self) -> str | None:
        if self._is_cloud_hydrate:
            return None
        if self._estimator is not None:
            return str(self._estimator.source_directory)
        if self._run_config is not None:
            return str(self._run_config.source_directory)
        return None

    # ---- Runyard's hooks -----------------------------------------------------------------------
    def _runyard_submit(self, experiment: Experiment, tags: Any = None, **kwargs: Any) -> Run:
        """Experiment.submit's hook: a HyperDriveRun (see HyperDriveRun._submit)."""
        if kwargs:
            raise HyperDriveConfigException(
                f"Experiment.submit(HyperDriveConfig, ...) got unexpected arguments "
                f"{sorted(kwargs)}; it takes only config and tags."
            )
        # late: cycle runconfig -> run -> runconfig; run.py imports this module (as v1's)
        from runyard.train.hyperdrive.run import HyperDriveRun

        return HyperDriveRun._submit(experiment, self, tags)

    def _base_config(self) -> ScriptRunConfig:
        """The children's ScriptRunConfig: run_config, or the estimator's."""
        if self._run_config is not None:
            return self._run_config
        if self._estimator is None:
            raise HyperDriveConfigException(
                "This HyperDriveConfig was read back from a stored sweep and has no training "
                "run of its own; build a new one with run_config= to submit."
            )
        src: ScriptRunConfig = self._estimator._as_script_run_config()
        return src

    def _sweep_definition(self) -> dict[str, Any]:
        """What the sweeps service stores and the agent's loop reads (v1's JSON configs)."""
        return {
            "generator_config": copy.deepcopy(self._generator_config),
            "primary_metric_config": dict(self._primary_metric_config),
            "policy_config": copy.deepcopy(self._policy_config),
            "max_total_runs": self._max_total_runs,
            "max_concurrent_runs": self._max_concurrent_runs,
            "max_duration_minutes": self._max_duration_minutes,
            "resume_from": [key["run_id"] for key in self._resume_from],
            "resume_child_runs": [key["run_id"] for key in self._resume_child_runs],
        }

    @staticmethod
    def _from_sweep_definition(
        definition: Mapping[str, Any], run_keys: Mapping[str, Any] | None = None
    ) -> HyperDriveConfig:
        """A stored sweep's configuration, read back (v1's rehydration): it describes the
        sweep but holds no training run, as v1's rehydrated config does."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            config = HyperDriveConfig(
                hyperparameter_sampling=_sampling_from_dict(definition["generator_config"]),
                primary_metric_name=definition["primary_metric_config"]["name"],
                primary_metric_goal=PrimaryMetricGoal.from_str(
                    definition["primary_metric_config"]["goal"]
                ),
                max_total_runs=int(definition["max_total_runs"]),
                max_concurrent_runs=int(definition["max_concurrent_runs"]),
                max_duration_minutes=int(definition["max_duration_minutes"]),
                policy=_rehydrated_policy(definition),
                run_config=ScriptRunConfig("."),
            )
        config._run_config = None
        config._is_cloud_hydrate = True
        keys = run_keys or {}
        config._resume_from = [
            _stored_key(i, keys) for i in definition.get("resume_from") or []
        ]  # fmt: skip
        config._resume_child_runs = [
            _stored_key(i, keys) for i in definition.get("resume_child_runs") or []
        ]
        return config

    def __repr__(self) -> str:
        return (
            f"HyperDriveConfig(sampling={self._generator_config['name']}, primary_metric="
            f"{self._primary_metric_config}, policy={self._policy_config['name']}, "
            f"max_total_runs={self._max_total_runs}, "
            f"max_concurrent_runs={self._max_concurrent_runs})"
        )


def _rehydrated_policy(definition: Mapping[str, Any]) -> EarlyTerminationPolicy | None:
    policy = _policy_from_dict(definition["policy_config"])
    if isinstance(policy, NoTerminationPolicy):
        return None
    return policy


def _as_sweep(run: Any) -> Any:
    """``run`` reopened as a HyperDriveRun when it is a sweep (run.parent is a plain Run)."""
    if hasattr(run, "hyperdrive_config") or getattr(run, "type", None) != "hyperdrive":
        return run
    # late: cycle runconfig -> run -> runconfig; run.py imports this module (as v1's)
    from runyard.train.hyperdrive.run import HyperDriveRun

    return HyperDriveRun(run.experiment, run.id)


def _run_key(run: Any) -> dict[str, Any]:
    """v1's run key of a sweep or a child: its scope and id."""
    experiment = run.experiment
    return {
        "run_scope": {
            "workspace_name": experiment.workspace.name,
            "experiment_name": experiment.name,
        },
        "run_id": run.id,
    }


def _stored_key(run_id: str, keys: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_scope": dict(keys.get(run_id) or {}), "run_id": run_id}


def _remove_clashing_arguments(
    arguments: Sequence[Any], parameter_space: Mapping[str, Any]
) -> list[Any]:
    """The script arguments without those the parameter space sets (v1 removes them, with a
    warning; the leading dashes are ignored when comparing). A removed option's value goes
    with it, unless the next argument is itself an option."""
    swept = {key.lstrip("-") for key in parameter_space}
    kept: list[Any] = []
    removed: list[str] = []
    skip_value = False
    for arg in arguments:
        if skip_value:
            skip_value = False
            if not (isinstance(arg, str) and arg.startswith("-") and not _is_number_text(arg)):
                continue
        if isinstance(arg, str) and arg.startswith("-") and not _is_number_text(arg):
            name, eq, _ = arg.partition("=")
            if name.lstrip("-") in swept:
                removed.append(name)
                skip_value = not eq
                continue
        kept.append(arg)
    if removed:
        _warn(
            "The same input parameter(s) are specified in estimator/run_config script params "
            "and HyperDrive parameter space. HyperDrive parameter space definition will "
            f"override these duplicate entries. {removed} is the list of overridden "
            "parameter(s)."
        )
    return kept


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class HyperDriveRunConfig(HyperDriveConfig):
    """Deprecated in v1: builds a HyperDriveConfig over an estimator."""

    def __new__(  # type: ignore[misc]
        cls,
        estimator: Any,
        hyperparameter_sampling: HyperParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal,
        max_total_runs: int,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: int = MAX_DURATION_MINUTES,
        policy: EarlyTerminationPolicy | None = None,
    ) -> HyperDriveConfig:
        _warn("HyperDriveRunConfig is deprecated. Please use the new HyperDriveConfig class.")
        return HyperDriveConfig(
            hyperparameter_sampling=hyperparameter_sampling,
            primary_metric_name=primary_metric_name,
            primary_metric_goal=primary_metric_goal,
            max_total_runs=max_total_runs,
            max_concurrent_runs=max_concurrent_runs,
            max_duration_minutes=max_duration_minutes,
            policy=policy,
            estimator=estimator,
        )


# v1 import path azureml.train.hyperdrive.runconfig.Run, loaded on first use: no cycle.
__getattr__, __dir__ = lazy_exports(__name__, {"Run": "runyard.core.run"})
