"""ScriptRunConfig: what to run (a script in a source folder) and where."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard.core.experiment import Experiment
    from runyard.core.run import Run

MAX_DURATION_SECONDS_DEFAULT = 2592000  # 30 days, as in v1


class ScriptRunConfig:
    """A script, its arguments and its compute target, for ``Experiment.submit``.

    Args:
        source_directory: Folder snapshotted at submit (honours .amlignore/.gitignore).
        script: The entry script, relative to source_directory.
        arguments: Command-line arguments (str or numbers).
        run_config: A RunConfiguration-like object; its script, arguments, target and
            environment_variables are used where this call gives none.
        compute_target: A target name or an object with ``.name`` (default 'local').
        environment: Kept for the environments issue; runs use the current Python.
        max_run_duration_seconds: Recorded in the run definition.
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        script: str | None = None,
        arguments: list[Any] | None = None,
        run_config: Any = None,
        _telemetry_values: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        distributed_job_config: Any = None,
        resume_from: Any = None,
        max_run_duration_seconds: int = MAX_DURATION_SECONDS_DEFAULT,
        command: Any = None,
        docker_runtime_config: Any = None,
    ) -> None:
        self.source_directory = str(source_directory)
        self.run_config = run_config
        self.script = script if script is not None else getattr(run_config, "script", None)
        if arguments is None:
            arguments = getattr(run_config, "arguments", None)
        self.arguments = list(arguments or [])
        self.command = command
        target = compute_target
        if run_config is not None and getattr(run_config, "target", None):
            target = run_config.target
        self.compute_target = _target_name(target)
        self.environment = environment
        self.distributed_job_config = distributed_job_config
        self.resume_from = resume_from
        self.max_run_duration_seconds = max_run_duration_seconds
        self.docker_runtime_config = docker_runtime_config

    @property
    def target(self) -> str:
        return self.compute_target

    def _runyard_submit(self, experiment: Experiment, tags: Any = None, **kwargs: Any) -> Run:
        """Experiment.submit's hook: checks everything, then hands over to the jobs service."""
        from runyard._services import jobs
        from runyard.core.run import Run

        if kwargs:
            raise UserErrorException(
                f"Experiment.submit(ScriptRunConfig, ...) got unexpected arguments "
                f"{sorted(kwargs)}; it takes only config and tags."
            )
        script = self._checked_script()
        env_vars = dict(getattr(self.run_config, "environment_variables", None) or {})
        info = jobs.submit_script_run(
            experiment.workspace._services,
            experiment_name=experiment.name,
            source_directory=self.source_directory,
            script=script,
            arguments=[_argument(a) for a in self.arguments],
            target=self.compute_target,
            tags=tags,
            environment_variables=env_vars or None,
            definition=self._definition(script),
        )
        return Run(experiment, info.run_id, _run_info=info)

    def _checked_script(self) -> str:
        source = Path(self.source_directory)
        if not source.is_dir():
            raise UserErrorException(
                f"source_directory {self.source_directory!r} does not exist or is not a folder; "
                "pass the folder that holds your script."
            )
        if self.script is None:
            raise UserErrorException(
                "ScriptRunConfig needs script=, e.g. ScriptRunConfig(source_directory='.', "
                "script='train.py'); command= is not supported yet."
            )
        if not (source / self.script).is_file():
            raise UserErrorException(
                f"Script {self.script!r} was not found in source_directory "
                f"{str(source.resolve())!r}; the path is relative to source_directory."
            )
        return str(self.script)

    def _definition(self, script: str) -> dict[str, Any]:
        return {
            "script": script,
            "arguments": [_argument(a) for a in self.arguments],
            "target": self.compute_target,
            "maxRunDurationSeconds": self.max_run_duration_seconds,
            "environment": {"name": getattr(self.environment, "name", None) or "default"},
        }

    def __repr__(self) -> str:
        return (
            f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r}, "
            f"arguments={self.arguments!r}, compute_target={self.compute_target!r})"
        )


def _target_name(target: Any) -> str:
    if target is None:
        return "local"
    if isinstance(target, str):
        return target
    name = getattr(target, "name", None)
    if isinstance(name, str):
        return name
    raise UserErrorException(
        f"compute_target {target!r} is not valid: pass a target name such as 'local' or a "
        "ComputeTarget object."
    )


def _argument(value: Any) -> str:
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise UserErrorException(
        f"Script argument {value!r} ({type(value).__name__}) is not supported; pass str or "
        "numbers (datasets come with the data issue)."
    )
