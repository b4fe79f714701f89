"""ScriptRunConfig: what to run (a script in a source folder), where and in what environment."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

# `X as X`: re-exported at v1's import paths (azureml.core.script_run_config.MpiConfiguration)
from runyard._reexports import lazy_exports
from runyard._services import jobs
from runyard.core._script_args import arguments_and_data
from runyard.core.run import Run
from runyard.core.runconfig import DockerConfiguration as DockerConfiguration
from runyard.core.runconfig import MpiConfiguration as MpiConfiguration
from runyard.core.runconfig import PyTorchConfiguration as PyTorchConfiguration
from runyard.core.runconfig import (
    RunConfiguration,
    apply_distributed_job_config,
    distribution_sections,
)
from runyard.core.runconfig import TensorflowConfiguration as TensorflowConfiguration
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard.core.experiment import Experiment
logger = logging.getLogger(__name__)

MAX_DURATION_SECONDS_DEFAULT = 2592000  # 30 days, as in v1
_IGNORED_WITH_RUN_CONFIG = (
    "compute_target",
    "environment",
    "distributed_job_config",
    "docker_runtime_config",
)


class ScriptRunConfig:
    """A script, its arguments, its compute target and environment, for ``Experiment.submit``.

    Args:
        source_directory: Folder snapshotted at submit (honours .amlignore/.gitignore).
        script: The entry script, relative to source_directory.
        arguments: Command-line arguments: str, numbers, or datasets
            (``ds.as_named_input('x').as_mount()``), which become the local folder path.
        run_config: A RunConfiguration; when given, compute_target, environment,
            distributed_job_config and docker_runtime_config are ignored (as in v1).
        compute_target: 'local', a cluster name or a ComputeTarget (default 'local').
        environment: An Environment, built into a cached virtualenv before the run
            starts; without one the run uses the Python that runs the agent.
        distributed_job_config: MpiConfiguration, PyTorchConfiguration or
            TensorflowConfiguration: the run's processes, started together on node_count
            nodes of the cluster (see runyard/_compute/ranks.py for what each is told).
        max_run_duration_seconds: Recorded in the run definition.
        docker_runtime_config: A DockerConfiguration (recorded; the driver log says the
            image was not used).
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        script: str | None = None,
        arguments: list[Any] | None = None,
        run_config: RunConfiguration | None = None,
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
        if run_config is None:
            run_config = RunConfiguration()
            run_config.target = _target_name(compute_target)
            if environment is not None:
                run_config.environment = environment
            if docker_runtime_config is not None:
                run_config.docker = docker_runtime_config
            run_config.max_run_duration_seconds = max_run_duration_seconds
            if distributed_job_config is not None:
                apply_distributed_job_config(run_config, distributed_job_config)
        else:
            given = dict(
                zip(
                    _IGNORED_WITH_RUN_CONFIG,
                    (compute_target, environment, distributed_job_config, docker_runtime_config),
                    strict=True,
                )
            )
            ignored = [name for name, value in given.items() if value is not None]
            if ignored:
                logger.warning(
                    "ScriptRunConfig ignores %s because run_config is given (as v1 does); "
                    "set them on the RunConfiguration instead.",
                    ", ".join(ignored),
                )
        self.run_config = run_config
        self.script = script if script is not None else run_config.script
        self.arguments = list(arguments if arguments is not None else run_config.arguments or [])
        self.command = command
        self.distributed_job_config = distributed_job_config
        self.resume_from = resume_from
        self.max_run_duration_seconds = max_run_duration_seconds
        self._notices: list[str] = []

    @property
    def compute_target(self) -> str:
        return self.run_config.target

    @property
    def target(self) -> str:
        return self.run_config.target

    @property
    def environment(self) -> Any:
        return self.run_config.environment

    @property
    def docker_runtime_config(self) -> Any:
        return self.run_config.docker

    def _runyard_submit(self, experiment: Experiment, tags: Any = None, **kwargs: Any) -> Run:
        """Experiment.submit's hook: checks everything, then hands over to the jobs service."""
        if kwargs:
            raise UserErrorException(
                f"Experiment.submit(ScriptRunConfig, ...) got unexpected arguments "
                f"{sorted(kwargs)}; it takes only config and tags."
            )
        info = jobs.submit_script_run(
            experiment.workspace._services,
            experiment_name=experiment.name,
            tags=tags,
            **self._submission(),
        )
        return Run(experiment, info.run_id, _run_info=info)

    def _submission(self) -> dict[str, Any]:
        """The jobs service's description of this run (source, script, arguments, target,
        variables, definition), checked here; a sweep submits it as its children's base."""
        script = self._checked_script()
        arguments, data = arguments_and_data(self.arguments, self.run_config.data)
        env_vars = self._environment_variables()
        return {
            "source_directory": self.source_directory,
            "script": script,
            "arguments": arguments,
            "target": self.compute_target,
            "environment_variables": env_vars or None,
            "definition": self._definition(script, arguments, data),
        }

    def _environment_variables(self) -> dict[str, Any]:
        """The job's variables: the Environment's (deprecated in v1, still applied at run
        time), overridden by run_config.environment_variables. The jobs service checks them."""
        merged: dict[str, str] = {}
        if self.run_config._environment_set:
            merged.update(getattr(self.run_config.environment, "environment_variables", {}) or {})
        merged.update(self.run_config.environment_variables or {})
        return merged

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

    def _definition(
        self, script: str, arguments: list[str], data: dict[str, Any]
    ) -> dict[str, Any]:
        rc = self.run_config
        definition: dict[str, Any] = {
            "script": script,
            "arguments": arguments,
            "target": self.compute_target,
            **distribution_sections(rc),
            "maxRunDurationSeconds": rc.max_run_duration_seconds,
            "maxRetries": getattr(rc, "max_retries", None),
            "data": data,
            "notices": list(self._notices),
        }
        if rc._environment_set:
            definition["environment"] = rc.environment._serialize_to_dict()
        else:  # the agent's Python runs it; nothing is built
            definition["environment"] = {"name": rc.environment.name}
        docker = rc.docker
        definition["docker"] = docker._to_dict() if hasattr(docker, "_to_dict") else {}
        return definition

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


# v1 import path azureml.core.script_run_config.DataPath, loaded on first use.
__getattr__, __dir__ = lazy_exports(__name__, {"DataPath": "runyard.data"})
