"""HyperDriveRun: a sweep's parent run (v1's ``azureml.train.hyperdrive.run``).

The sweep itself is driven by the workspace agent (runyard/_services/sweep_loop.py); this
class submits it, reopens it and reads its results: the children (``HD_<guid>_<n>``), their
hyperparameters and metrics, and the best of them by the primary metric.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runyard._entities import RunStatus
from runyard._reexports import lazy_exports
from runyard._services import jobs, metrics, sweeps
from runyard.core.run import Run, register_run_class
from runyard.exceptions import HyperDriveConfigException, HyperDriveNotImplementedException
from runyard.exceptions import TrainingException as TrainingException  # v1 import path
from runyard.train.hyperdrive.runconfig import (
    HyperDriveConfig,
    PrimaryMetricGoal,
    _remove_clashing_arguments,
)

if TYPE_CHECKING:
    from runyard.core.experiment import Experiment

# v1's notebooks import PrimaryMetricGoal from here (v1's run.py imports it too).
__all__ = ["HyperDriveRun", "PrimaryMetricGoal"]


class HyperDriveRun(Run):
    """A HyperDrive sweep: ``experiment.submit(HyperDriveConfig(...))`` returns one, and
    ``HyperDriveRun(experiment, 'HD_...')`` or ``Run.get(ws, 'HD_...')`` reopens one."""

    RUN_TYPE = sweeps.RUN_TYPE

    def __init__(
        self,
        experiment: Experiment,
        run_id: str,
        hyperdrive_config: HyperDriveConfig | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(run_id, str):
            raise HyperDriveConfigException(
                f"Expected type str for run_id but got {type(run_id).__name__}; pass the "
                "sweep's id, 'HD_<guid>'."
            )
        super().__init__(experiment, run_id, **kwargs)
        self._hyperdrive_config = hyperdrive_config
        self._output_logs_pattern = sweeps.SWEEP_LOG

    # ---- submit --------------------------------------------------------------------------
    @classmethod
    def _submit(
        cls, experiment: Experiment, config: HyperDriveConfig, tags: Mapping[str, str] | None
    ) -> HyperDriveRun:
        """Stores the sweep (its children's base run checked and snapshotted) for the agent."""
        submission = config._base_config()._submission()
        submission["arguments"] = _remove_clashing_arguments(
            submission["arguments"], config._generator_config["parameter_space"]
        )
        info = sweeps.submit_sweep(
            experiment.workspace._services,
            experiment_name=experiment.name,
            sweep=config._sweep_definition(),
            tags=tags,
            **submission,
        )
        return cls(experiment, info.run_id, hyperdrive_config=config, _run_info=info)

    # ---- the configuration ---------------------------------------------------------------
    @property
    def hyperdrive_config(self) -> HyperDriveConfig:
        """The sweep's HyperDriveConfig (read back from the store when reopened)."""
        if self._hyperdrive_config is None:
            info = self._get_info()
            if info.run_type != sweeps.RUN_TYPE or "hyperdrive" not in info.definition:
                raise HyperDriveConfigException(
                    f"Run {self._run_id!r} is a {info.run_type!r} run, not a HyperDrive sweep; "
                    "open it with Run(experiment, run_id) or Run.get(ws, run_id)."
                )
            self._hyperdrive_config = HyperDriveConfig._from_sweep_definition(
                info.definition["hyperdrive"], self._run_keys(info.definition["hyperdrive"])
            )
        return self._hyperdrive_config

    def _run_keys(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        ids = [*(definition.get("resume_from") or []), *(definition.get("resume_child_runs") or [])]
        keys: dict[str, Any] = {}
        for run_id in ids:
            try:
                found = self._services.store.get_run(run_id)
            except Exception:  # deleted since: the key keeps only the id
                continue
            keys[run_id] = {
                "workspace_name": self._experiment.workspace.name,
                "experiment_name": found.experiment_name,
            }
        return keys

    def _sweep_info(self) -> Any:
        info = self._refresh()
        if info.run_type != sweeps.RUN_TYPE:
            raise HyperDriveConfigException(
                f"Run {self._run_id!r} is a {info.run_type!r} run, not a HyperDrive sweep."
            )
        return info

    # ---- control -------------------------------------------------------------------------
    def cancel(self) -> bool:  # type: ignore[override]
        """Cancels the sweep: every running child ends Canceled and no child starts after."""
        self._set(jobs.cancel_run(self._services, self._run_id))
        return True

    def fail(self, *args: Any, **kwargs: Any) -> None:
        raise HyperDriveNotImplementedException(
            "Fail is not implemented for HyperDrive run. Cancel the sweep with cancel()."
        )

    def get_diagnostics(self) -> None:
        raise HyperDriveNotImplementedException(
            "Get diagnostics is not implemented for HyperDrive run. Read the sweep log "
            f"({sweeps.SWEEP_LOG}) with get_details_with_logs()."
        )

    # ---- results -------------------------------------------------------------------------
    def get_hyperparameters(self) -> dict[str, str]:
        """``{child run id: JSON string of {parameter: value}}``, from the parent's tags."""
        return _hyperparameters(self._run_id, self._refresh().tags)

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """``[{'run_id', 'hyperparameters', 'best_primary_metric', 'status'}]``, best first
        (``reverse``: worst first); children without the metric last (or left out with
        ``discard_no_metric``); ``top=0``: all."""
        if not isinstance(top, int) or isinstance(top, bool) or top < 0:
            raise HyperDriveConfigException(
                f"Value of parameter top should be 0 or a positive integer (got {top!r})."
            )
        for name, value in (("reverse", reverse), ("discard_no_metric", discard_no_metric)):
            if not isinstance(value, bool):
                raise HyperDriveConfigException(
                    f"Type of parameter {name} should be bool (got {value!r})."
                )
        info = self._sweep_info()  # one read: the tags and the sweep's definition
        hyperparameters = _hyperparameters(self._run_id, info.tags)
        ranked = sweeps.ranked_children(self._services, info)
        scored = [(c, v) for c, v in ranked if v is not None]
        if reverse:
            scored.reverse()
        rows = scored if discard_no_metric else scored + [(c, v) for c, v in ranked if v is None]
        children = [
            {
                "run_id": child.run_id,
                "hyperparameters": hyperparameters.get(child.run_id),
                "best_primary_metric": value,
                "status": child.status.value,
            }
            for child, value in rows
        ]
        return children if top == 0 else children[:top]

    def get_best_run_by_primary_metric(
        self,
        include_failed: bool = True,
        include_canceled: bool = True,
        include_resume_from_runs: bool = True,
    ) -> Run | None:
        """The child with the best primary metric (of this sweep and, with
        ``include_resume_from_runs``, of the sweeps it resumed from), or None with a
        warning naming the metrics the children did log."""
        statuses = [
            s
            for s in RunStatus
            if not (s is RunStatus.FAILED and not include_failed)
            and not (s is RunStatus.CANCELED and not include_canceled)
        ]
        info = self._sweep_info()
        ranked = sweeps.ranked_children(
            self._services, info, statuses=statuses, with_resumed=include_resume_from_runs
        )
        if ranked and ranked[0][1] is not None:
            best = ranked[0][0]
            return self._child(best.run_id, best.experiment_name)
        metric = sweeps.sweep_config(info)["primary_metric_config"]["name"]
        logged = sweeps.logged_metric_names(self._services, self._run_id)
        which = "" if include_failed and include_canceled else " among the runs included"
        warnings.warn(
            f"No child run of {self._run_id} logged the primary metric {metric!r}{which}, so "
            f"there is no best run. The children logged: {logged or 'no metric at all'}. "
            "Check primary_metric_name against the name the script passes to run.log().",
            UserWarning,
            stacklevel=2,
        )
        return None

    def _child(self, run_id: str, experiment_name: str) -> Run:
        # late: cycle Experiment -> Run; experiment.py imports run.py at module level
        from runyard.core.experiment import Experiment

        experiment = self._experiment
        if experiment_name != experiment.name:
            experiment = Experiment(experiment.workspace, experiment_name, _create_in_cloud=False)
        return Run(experiment, run_id)

    def get_metrics(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """``{child run id: {metric: value}}`` for every child (v1's shapes per child)."""
        if args or kwargs:
            raise HyperDriveConfigException(
                "HyperDriveRun.get_metrics() takes no arguments: it gives every child's "
                "metrics; for one child use Run(experiment, child_id).get_metrics(name)."
            )
        return {
            child.run_id: metrics.get_metrics(self._services, child.run_id)
            for child in sweeps.children(self._services, self._run_id)
        }

    def __repr__(self) -> str:
        return f"HyperDriveRun(Experiment: {self._experiment.name}, Id: {self._run_id})"


def _hyperparameters(run_id: str, tags: Mapping[str, Any]) -> dict[str, str]:
    """v1's get_hyperparameters from the sweep's tags: ``_aml_system_<child id>`` first,
    then the older bare ``<child id>`` tags."""
    result: dict[str, str] = {}
    prefix = run_id + "_"
    for name, value in tags.items():
        bare = name[len(sweeps.HYPERPARAMETER_TAG) :]
        if name.startswith(sweeps.HYPERPARAMETER_TAG) and _is_child_tag(bare, prefix):
            result[bare] = str(value)
    for name, value in tags.items():
        if _is_child_tag(name, prefix) and name not in result:
            result[name] = str(value)
    return result


def _is_child_tag(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


register_run_class(sweeps.RUN_TYPE, HyperDriveRun)


# v1 import paths (azureml.train.hyperdrive.run.Experiment ...), loaded on first use: no cycle.
__getattr__, __dir__ = lazy_exports(
    __name__, {"Experiment": "runyard.core.experiment", "Workspace": "runyard.core.workspace"}
)
