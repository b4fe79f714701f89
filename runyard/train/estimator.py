"""``Estimator`` (v1: ``azureml.train.estimator.Estimator``): a training job described in one call.

v1 deprecated estimators in favour of ScriptRunConfig; Runyard keeps them so that v1
notebooks run unchanged, and turns each into a ScriptRunConfig at submit time.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard.core._script_args import as_run_input
from runyard.core.conda_dependencies import CondaDependencies
from runyard.core.environment import DockerConfiguration, Environment
from runyard.core.runconfig import MpiConfiguration, TensorflowConfiguration
from runyard.core.script_run_config import ScriptRunConfig
from runyard.exceptions import TrainingException
from runyard.train import _validation
from runyard.train._distributed import Gloo as Gloo  # `X as X`: at v1's import path
from runyard.train._distributed import Mpi as Mpi
from runyard.train._distributed import Nccl as Nccl
from runyard.train._distributed import ParameterServer as ParameterServer
from runyard.train._script_params import (
    dataset_inputs,
    flatten_script_params,
    script_params_to_argv,
)

logger = logging.getLogger(__name__)

_SUBMIT_OVERRIDES = ("script_params", "inputs", "source_directory_data_store")


class Estimator:
    """A script, its arguments, where it runs and what it needs installed.

    Args:
        source_directory: folder snapshotted for the run.
        compute_target: 'local', a cluster name or a ComputeTarget. Either this or vm_size.
        vm_size: size of a run-based cluster (target 'amlcompute') when no target is given.
        vm_priority: 'dedicated' or 'lowpriority' for that cluster.
        entry_script: script to run, relative to source_directory.
        script_params: dict turned into argv: ``{'--epochs': 10}`` -> ``--epochs 10``; list
            values expand, None and '' leave the key alone.
        node_count: nodes (>= 1); more than one needs distributed_training.
        process_count_per_node: processes per node (>= 1).
        distributed_backend: deprecated v1 spelling of distributed_training ('mpi').
        distributed_training: Mpi(), ParameterServer(), Gloo(), Nccl() or an
            MpiConfiguration: the run's processes start together on node_count nodes.
        use_gpu: use the GPU image and packages where the node has a GPU.
        use_docker: recorded; jobs run in a virtualenv when no container engine exists.
        custom_docker_base_image: deprecated name of custom_docker_image.
        custom_docker_image: base image, recorded.
        image_registry_details: registry of that image, recorded.
        user_managed: use the Python given by the environment as is; install nothing.
        conda_packages: conda packages, mapped to their PyPI twins.
        pip_packages: pip packages.
        conda_dependencies_file_path: deprecated name of conda_dependencies_file.
        pip_requirements_file_path: deprecated name of pip_requirements_file.
        conda_dependencies_file: conda YAML, relative to source_directory or absolute.
        pip_requirements_file: requirements.txt, relative to source_directory or absolute.
        environment_variables: variables set in the job.
        environment_definition: an Environment; excludes the package, image and gpu options.
        inputs: DatasetConsumptionConfig (or DataReference) objects the run reads.
        source_directory_data_store: recorded; snapshots live in the workspace.
        shm_size: recorded Docker shared-memory size, such as '2g'.
        resume_from: a path whose files the script gets through ``--resume-from``.
        max_run_duration_seconds: the run is canceled after this long.

    Raises:
        TrainingException: for arguments v1 rejects; the message names them.
    """

    _framework_name = "Estimator"
    _supported_backends: tuple[str, ...] = ("mpi", "ps", "gloo", "nccl")

    def __init__(
        self,
        source_directory: str,
        *,
        compute_target: Any = None,
        vm_size: str | None = None,
        vm_priority: str | None = None,
        entry_script: str | None = None,
        script_params: Mapping[str, Any] | None = None,
        node_count: int = 1,
        process_count_per_node: int = 1,
        distributed_backend: str | None = None,
        distributed_training: Any = None,
        use_gpu: bool = False,
        use_docker: bool = True,
        custom_docker_base_image: str | None = None,
        custom_docker_image: str | None = None,
        image_registry_details: Any = None,
        user_managed: bool = False,
        conda_packages: list[str] | None = None,
        pip_packages: list[str] | None = None,
        conda_dependencies_file_path: str | None = None,
        pip_requirements_file_path: str | None = None,
        conda_dependencies_file: str | None = None,
        pip_requirements_file: str | None = None,
        environment_variables: Mapping[str, str] | None = None,
        environment_definition: Any = None,
        inputs: list[Any] | None = None,
        source_directory_data_store: Any = None,
        shm_size: str | None = None,
        resume_from: Any = None,
        max_run_duration_seconds: int | None = None,
        _disable_validation: bool = True,
        _show_lint_warnings: bool = False,
        _show_package_warnings: bool = False,
    ) -> None:
        conda_file = _validation.pick_renamed(
            "conda_dependencies_file",
            conda_dependencies_file,
            "conda_dependencies_file_path",
            conda_dependencies_file_path,
        )
        pip_file = _validation.pick_renamed(
            "pip_requirements_file",
            pip_requirements_file,
            "pip_requirements_file_path",
            pip_requirements_file_path,
        )
        image = _validation.pick_renamed(
            "custom_docker_image",
            custom_docker_image,
            "custom_docker_base_image",
            custom_docker_base_image,
        )
        if not source_directory:
            raise TrainingException(
                f"source_directory={source_directory!r}: give the folder holding the entry script."
            )
        _validation.check_target(compute_target, vm_size)
        _validation.check_distribution(
            type(self).__name__,
            node_count=node_count,
            process_count_per_node=process_count_per_node,
            distributed_backend=distributed_backend,
            distributed_training=distributed_training,
            backends=self._supported_backends,
        )
        _validation.check_environment_options(
            {
                "environment_definition": environment_definition,
                "conda_packages": conda_packages,
                "pip_packages": pip_packages,
                "conda_dependencies_file": conda_file,
                "pip_requirements_file": pip_file,
                "custom_docker_image": image,
                "image_registry_details": image_registry_details,
                "use_gpu": use_gpu,
                "shm_size": shm_size,
                "environment_variables": environment_variables,
                "user_managed": user_managed,
                "use_docker": use_docker,
            }
        )
        # flatten now so that a bad script_params fails at construction, as in v1
        flatten_script_params(script_params)
        self.source_directory = str(source_directory)
        self.compute_target = compute_target if compute_target is not None else "amlcompute"
        self.vm_size = vm_size
        self.vm_priority = vm_priority
        self.entry_script = entry_script
        self.script_params: dict[str, Any] = dict(script_params or {})
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.distributed_backend = distributed_backend
        self.distributed_training = distributed_training
        self.use_gpu = use_gpu
        self.use_docker = use_docker
        self.custom_docker_image = image
        self.image_registry_details = image_registry_details
        self.user_managed = user_managed
        self.conda_packages = list(conda_packages or [])
        self.pip_packages = list(pip_packages or [])
        self.conda_dependencies_file = conda_file
        self.pip_requirements_file = pip_file
        self.environment_variables: dict[str, str] = dict(environment_variables or {})
        self.environment_definition = environment_definition
        self.inputs: list[Any] = list(inputs or [])
        self.source_directory_data_store = source_directory_data_store
        self.shm_size = shm_size
        self.resume_from = resume_from
        self.max_run_duration_seconds = max_run_duration_seconds

    # ---- what submit needs ---------------------------------------------------------------

    def _arguments(self) -> list[Any]:
        """argv items with data objects kept, for ScriptRunConfig to materialize."""
        items = flatten_script_params(self.script_params)
        if self.resume_from is not None:
            items += ["--resume-from", self.resume_from]
        return [as_run_input(item) for item in items]

    def _argv(self) -> list[Any]:
        """argv as v1 records it in the run definition (data objects as tokens)."""
        argv = script_params_to_argv(self.script_params)
        if self.resume_from is not None:
            argv += ["--resume-from", str(self.resume_from)]
        return argv

    def _dataset_inputs(self) -> list[Any]:
        """Datasets the run reads: those in script_params, then those in inputs."""
        return dataset_inputs([*self._arguments(), *map(as_run_input, self.inputs)])

    def _pip_packages(self) -> list[str]:
        """v1 puts azureml-defaults first whenever pip packages are given."""
        if not self.pip_packages:
            return []
        return ["azureml-defaults", *[p for p in self.pip_packages if p != "azureml-defaults"]]

    def _environment(self) -> Any:
        if self.environment_definition is not None:
            return self.environment_definition
        name = f"{type(self).__name__}-environment"
        if self.conda_dependencies_file is not None:
            path = self._source_path(self.conda_dependencies_file)
            env = Environment.from_conda_specification(name, path)
        elif self.pip_requirements_file is not None:
            env = Environment.from_pip_requirements(
                name, self._source_path(self.pip_requirements_file)
            )
            conda = env.python.conda_dependencies
            assert conda is not None  # from_pip_requirements always sets one
            for package in self._pip_packages():
                conda.add_pip_package(package)
            for package in self.conda_packages:
                conda.add_conda_package(package)
        else:
            env = Environment(name)
            env.python.conda_dependencies = CondaDependencies.create(
                pip_packages=self._pip_packages() or None,
                conda_packages=self.conda_packages or None,
            )
        env.python.user_managed_dependencies = self.user_managed
        if self.custom_docker_image is not None:
            env.docker.base_image = self.custom_docker_image
        return env

    def _source_path(self, path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() else Path(self.source_directory) / p)

    def _to_script_run_config(self) -> Any:
        """The ScriptRunConfig this estimator submits as (v1 does the same internally)."""
        if self.entry_script is None:
            raise TrainingException(
                "entry_script is not set; pass entry_script='train.py' (a file in "
                f"{self.source_directory!r}) to the estimator."
            )
        kwargs: dict[str, Any] = {}
        if self.max_run_duration_seconds is not None:
            kwargs["max_run_duration_seconds"] = self.max_run_duration_seconds
        src = ScriptRunConfig(
            self.source_directory,
            script=self.entry_script,
            arguments=self._arguments(),
            compute_target=self.compute_target,
            environment=self._environment(),
            **kwargs,
        )
        self._apply_run_settings(src)
        return src

    def _apply_run_settings(self, src: Any) -> None:
        """Settings ScriptRunConfig's constructor has no argument for (v1 keeps them on
        src.run_config)."""
        settings = {
            "environment_variables": self.environment_variables,
            "node_count": self.node_count if self.node_count > 1 else None,
            "data": {c.name: c for c in self._dataset_inputs() if c not in self._arguments()},
        }
        wanted = [key for key, value in settings.items() if value]
        if not wanted and self.distributed_training is None and self.distributed_backend is None:
            return
        run_config = getattr(src, "run_config", None)
        if run_config is None:
            raise TrainingException(
                f"This estimator sets {', '.join(wanted)}, which this Runyard's ScriptRunConfig "
                "cannot carry yet (it has no run_config). Submit without them, or pass the "
                "datasets in script_params."
            )
        run_config.environment_variables.update(self.environment_variables)
        if self.node_count > 1:
            run_config.node_count = self.node_count
        run_config.data.update(settings["data"])
        self._apply_distribution(run_config)

    def _apply_distribution(self, run_config: Any) -> None:
        """v1's mapping of distributed_training / distributed_backend onto the run config
        (azureml.train._estimator_helper): communicator, framework and its section."""
        training, backend = self.distributed_training, self.distributed_backend
        if training is None and (backend is None or str(backend).lower() != "mpi"):
            return
        run_config.node_count = self.node_count
        if training is None:  # distributed_backend='mpi' (deprecated)
            run_config.communicator = "IntelMpi"
            run_config.mpi = MpiConfiguration(self.process_count_per_node, self.node_count)
        elif isinstance(training, MpiConfiguration):
            run_config.communicator, run_config.mpi = "IntelMpi", training
        elif isinstance(training, Mpi):
            run_config.communicator, run_config.framework = "Mpi", "python"
            run_config.mpi = MpiConfiguration(training.process_count_per_node, self.node_count)
        elif isinstance(training, ParameterServer):
            run_config.communicator, run_config.framework = "ParameterServer", "tensorflow"
            run_config.tensorflow = TensorflowConfiguration(
                training.worker_count, training.parameter_server_count
            )
        elif isinstance(training, Gloo | Nccl):
            run_config.communicator, run_config.framework = type(training).__name__, "pytorch"

    def _runyard_submit(self, experiment: Any, tags: Any = None, **kwargs: Any) -> Any:
        """Experiment.submit's hook: ``exp.submit(est, script_params=..., inputs=...)``
        applies the overrides to a copy, which is submitted as its ScriptRunConfig."""
        return self._as_script_run_config(**kwargs)._runyard_submit(experiment, tags=tags)

    def _as_script_run_config(self, **kwargs: Any) -> Any:
        """The ScriptRunConfig this estimator submits as (``kwargs``: submit's overrides);
        a sweep over an estimator uses it as its children's base."""
        est = self._submit_overrides(**kwargs)
        src = est._to_script_run_config()
        src.run_config.docker = DockerConfiguration(
            use_docker=est.use_docker, shm_size=est.shm_size or "2g"
        )
        notice = getattr(est, "_environment_notice", None)
        if notice:
            src._notices.append(notice)
        return src

    def _submit_overrides(self, **kwargs: Any) -> Estimator:
        """A copy with ``exp.submit(est, script_params=..., inputs=...,
        source_directory_data_store=...)`` applied; this estimator is left unchanged.

        script_params are merged over the estimator's (same key: the submit value wins);
        inputs are added, replacing an input of the same name.

        Raises:
            TrainingException: for any other keyword.
        """
        unknown = [key for key in kwargs if key not in _SUBMIT_OVERRIDES]
        if unknown:
            raise TrainingException(
                f"Experiment.submit() got {', '.join(repr(k) for k in unknown)} for an "
                f"estimator; only {', '.join(_SUBMIT_OVERRIDES)} can be overridden at submit. "
                "Set other options on the estimator itself."
            )
        est = copy.copy(self)
        if kwargs.get("script_params"):
            merged = dict(self.script_params)
            merged.update(kwargs["script_params"])
            flatten_script_params(merged)
            est.script_params = merged
        else:
            est.script_params = dict(self.script_params)
        est.inputs = list(self.inputs)
        for new in kwargs.get("inputs") or []:
            name = getattr(new, "name", None)
            est.inputs = [
                old for old in est.inputs if name is None or getattr(old, "name", None) != name
            ]
            est.inputs.append(new)
        if kwargs.get("source_directory_data_store") is not None:
            est.source_directory_data_store = kwargs["source_directory_data_store"]
        return est
