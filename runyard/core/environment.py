"""``Environment``: what a run needs installed, with v1's names.

Runyard builds the Python part into a uv virtualenv (``runyard._envs``). Docker settings
are accepted and recorded so v1 code runs unchanged, but no image is built or pulled.
``DockerConfiguration`` lives here (v1 has it in ``azureml.core.runconfig``, which
re-exports it from this module).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._services import environments
from runyard._services.environments import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE
from runyard.core._environment_sections import DockerSection, PythonBuildSettings, PythonSection
from runyard.core._pip_requirements import read_requirements
from runyard.core.conda_dependencies import (
    CONDA_FILE_NAME,
    PYTHON_DEFAULT_VERSION,
    CondaDependencies,
)
from runyard.exceptions import InvalidEnvironmentDefinition, UserErrorException

if TYPE_CHECKING:
    from runyard.core.workspace import Workspace

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "DockerConfiguration",
    "Environment",
    "PythonBuildSettings",
    "curated_environment",
]

ENVIRONMENT_FILE_NAME = "azureml_environment.json"
DOCKERFILE_NAME = "Dockerfile"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class DockerConfiguration:
    """How a run would use Docker (recorded; Runyard runs jobs in a venv).

    Args:
        use_docker: Run in a container (recorded only: without a container engine the job
            runs in a venv and the driver log says so).
        shared_volumes: Recorded.
        arguments: Extra ``docker run`` arguments, recorded.
        shm_size: Shared memory size, such as ``'2g'``.
    """

    def __init__(
        self,
        use_docker: bool = False,
        shared_volumes: bool = True,
        arguments: Iterable[str] | None = None,
        shm_size: str | None = "2g",
    ) -> None:
        self.use_docker = bool(use_docker)
        self.shared_volumes = bool(shared_volumes)
        self.arguments = list(arguments or [])
        self.shm_size = shm_size

    def _to_dict(self) -> dict[str, Any]:
        return {
            "useDocker": self.use_docker,
            "sharedVolumes": self.shared_volumes,
            "arguments": list(self.arguments),
            "shmSize": self.shm_size,
        }

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> DockerConfiguration:
        return cls(
            use_docker=bool(data.get("useDocker", False)),
            shared_volumes=bool(data.get("sharedVolumes", True)),
            arguments=data.get("arguments") or [],
            shm_size=data.get("shmSize", "2g"),
        )

    def __repr__(self) -> str:
        return f"DockerConfiguration({self._to_dict()!r})"


class Environment:
    """A reproducible Python environment for runs.

    Args:
        name: The environment's name.

    Raises:
        UserErrorException: The name is empty or has characters other than letters,
            digits, '.', '_' and '-'.
    """

    def __init__(self, name: str) -> None:
        _check_name(name)
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
        self.inferencing_stack_version: str | None = None
        self.r: Any = None

    # ---- constructors --------------------------------------------------------------------
    @staticmethod
    def from_pip_requirements(
        name: str, file_path: str | os.PathLike[str], pip_version: str | None = None
    ) -> Environment:
        """An environment whose pip packages are a requirements file's lines.

        Args:
            name: The environment's name.
            file_path: The requirements file.
            pip_version: A pip version to pin (conda ``pip=<ver>``).

        Returns:
            The Environment.

        Raises:
            InvalidEnvironmentDefinition: The file does not exist.
        """
        lines = read_requirements(Path(file_path))
        env = Environment(name)
        cd = CondaDependencies()
        cd.set_pip_requirements(lines)
        cd.add_conda_package(f"pip={pip_version}" if pip_version else "pip")
        env.python.conda_dependencies = cd
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment from a conda YAML (its ``pip:`` section included).

        Args:
            name: The environment's name.
            file_path: The conda environment YAML.

        Returns:
            The Environment.

        Raises:
            InvalidEnvironmentDefinition: The file is missing or is not a conda YAML.
        """
        cd = CondaDependencies(conda_dependencies_file_path=file_path)
        if cd.get_python_version() is None:
            logger.warning(
                "No Python version provided in %s; defaulting to Python %s.",
                file_path,
                PYTHON_DEFAULT_VERSION,
            )
            cd.set_python_version(PYTHON_DEFAULT_VERSION)
        env = Environment(name)
        env.python.conda_dependencies = cd
        return env

    def clone(self, new_name: str) -> Environment:
        """A copy under another name, without a version."""
        _check_name(new_name)
        env = copy.deepcopy(self)
        env.name = new_name
        env.version = None
        return env

    # ---- files ---------------------------------------------------------------------------
    def save_to_directory(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Writes azureml_environment.json and conda_dependencies.yml (and a Dockerfile).

        Raises:
            UserErrorException: The directory exists and overwrite is False.
        """
        folder = Path(path)
        if folder.exists() and not overwrite:
            raise UserErrorException(
                f"Directory {str(folder)!r} already exists; pass overwrite=True or "
                "choose another path."
            )
        folder.mkdir(parents=True, exist_ok=True)
        data = self._serialize_to_dict()
        data["python"]["condaDependencies"] = None
        dockerfile = data["docker"]["baseDockerfile"]
        data["docker"]["baseDockerfile"] = None
        (folder / ENVIRONMENT_FILE_NAME).write_text(json.dumps(data, indent=4), encoding="utf-8")
        if self.python.conda_dependencies is not None:
            self.python.conda_dependencies.save(folder / CONDA_FILE_NAME)
        if dockerfile:
            (folder / DOCKERFILE_NAME).write_text(dockerfile, encoding="utf-8")

    @staticmethod
    def load_from_directory(path: str | os.PathLike[str]) -> Environment:
        """Reads what save_to_directory wrote.

        Raises:
            InvalidEnvironmentDefinition: azureml_environment.json is missing or broken.
        """
        folder = Path(path)
        definition_file = folder / ENVIRONMENT_FILE_NAME
        try:
            data = json.loads(definition_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidEnvironmentDefinition(
                f"{str(definition_file)!r} does not exist; point load_from_directory at a "
                "folder written by env.save_to_directory()."
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidEnvironmentDefinition(
                f"{str(definition_file)!r} is not valid JSON ({exc})."
            ) from None
        env = Environment._deserialize(data)
        if (folder / CONDA_FILE_NAME).is_file():
            env.python.conda_dependencies = CondaDependencies(folder / CONDA_FILE_NAME)
        if (folder / DOCKERFILE_NAME).is_file():
            env.docker.base_dockerfile = (folder / DOCKERFILE_NAME).read_text(encoding="utf-8")
        return env

    # ---- registry --------------------------------------------------------------------------
    def register(self, workspace: Workspace) -> Environment:
        """Registers this environment; a content-identical re-register keeps its version.

        Returns:
            The registered Environment, with its version ("1", "2", ...).

        Raises:
            UserErrorException: The name starts with the reserved prefix AzureML or Microsoft.
        """
        version = environments.register_environment(
            workspace._services, self.name, self._serialize_to_dict()
        )
        env = self.clone(self.name)
        env.version = version
        return env

    @staticmethod
    def get(
        workspace: Workspace, name: str, version: str | None = None, label: str | None = None
    ) -> Environment:
        """A registered or curated environment (the latest version when none is given).

        Raises:
            EnvironmentNotFound: No such name or version.
        """
        if version is not None and label is not None:
            raise UserErrorException("Give Environment.get either version or label, not both.")
        data = environments.get_environment(workspace._services, name, version, label)
        return Environment._deserialize(data)

    @staticmethod
    def label(workspace: Workspace, name: str, version: str, labels: list[str]) -> None:
        """Puts labels on a registered version; each label moves from the version that had it.

        Args:
            workspace: The workspace.
            name: The registered environment's name.
            version: The version to label.
            labels: Labels such as ['production'].

        Raises:
            EnvironmentNotFound: No such name or version (nothing is labelled).
            UserErrorException: Bad labels, or a curated environment.
        """
        environments.label_environment(workspace._services, name, version, labels)

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        """{name: latest Environment}, curated environments included."""
        found = environments.list_environments(workspace._services)
        return {name: Environment._deserialize(data) for name, data in found.items()}

    # ---- (de)serialization: v1's JSON shape plus Runyard's build settings ------------------
    def _serialize_to_dict(self) -> dict[str, Any]:
        cd = self.python.conda_dependencies
        return {
            "name": self.name,
            "version": self.version,
            "python": {
                "interpreterPath": self.python.interpreter_path,
                "userManagedDependencies": bool(self.python.user_managed_dependencies),
                "condaDependencies": cd.as_dict() if cd is not None else None,
                "baseCondaEnvironment": self.python.base_conda_environment,
                "runyardBuild": self.python.build_settings._to_dict(),
            },
            "environmentVariables": dict(self.environment_variables),
            "docker": {
                "enabled": self.docker.enabled,
                "baseImage": self.docker.base_image,
                "baseDockerfile": self.docker.base_dockerfile,
                "buildContext": self.docker.build_context,
                "sharedVolumes": self.docker.shared_volumes,
                "shmSize": self.docker.shm_size,
                "arguments": list(self.docker.arguments),
                "baseImageRegistry": dict(self.docker.base_image_registry),
            },
            "inferencingStackVersion": self.inferencing_stack_version,
            "r": self.r,
        }

    @staticmethod
    def _deserialize(data: Mapping[str, Any]) -> Environment:
        if not isinstance(data, Mapping) or "name" not in data:
            raise InvalidEnvironmentDefinition(
                f"An environment definition needs at least a 'name'; got {data!r}."
            )
        env = Environment(data["name"])
        env.version = data.get("version")
        python = data.get("python") or {}
        env.python.interpreter_path = python.get("interpreterPath", "python")
        env.python.user_managed_dependencies = bool(python.get("userManagedDependencies"))
        cd = python.get("condaDependencies")
        env.python.conda_dependencies = (
            CondaDependencies(_underlying_structure=cd) if cd is not None else None
        )
        env.python.base_conda_environment = python.get("baseCondaEnvironment")
        build = python.get("runyardBuild") or {}
        env.python.build_settings = PythonBuildSettings(
            build.get("constraints", ()),
            build.get("preInstallPackages", ()),
            build.get("noBuildIsolationPackages", ()),
        )
        env.environment_variables = dict(data.get("environmentVariables") or {})
        docker = data.get("docker") or {}
        env.docker._enabled = bool(docker.get("enabled", False))
        env.docker._base_image = docker.get("baseImage", DEFAULT_CPU_IMAGE)
        env.docker._base_dockerfile = docker.get("baseDockerfile")
        env.docker._build_context = docker.get("buildContext")
        env.docker.shared_volumes = bool(docker.get("sharedVolumes", True))
        env.docker.shm_size = docker.get("shmSize", "2g")
        env.docker.arguments = list(docker.get("arguments") or [])
        env.docker.base_image_registry = dict(docker.get("baseImageRegistry") or {})
        env.inferencing_stack_version = data.get("inferencingStackVersion")
        env.r = data.get("r")
        return env

    def __repr__(self) -> str:
        return json.dumps(self._serialize_to_dict(), indent=4)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Environment):
            return NotImplemented
        return self._serialize_to_dict() == other._serialize_to_dict()

    __hash__ = None  # type: ignore[assignment]


def curated_environment(
    framework: str, framework_version: str, *, use_gpu: bool, gpu_present: bool | None = None
) -> tuple[Environment, str | None]:
    """The curated environment for a framework estimator, and a line for the driver log.

    Args:
        framework: ``'Chainer'`` (case-insensitive).
        framework_version: For Chainer, ``'7.8.1'``.
        use_gpu: The estimator's use_gpu.
        gpu_present: Whether this node has a GPU; detected (nvidia-smi -L, /dev/nvidia0)
            when None.

    Returns:
        (environment, notice): notice is None, or one line saying which variant is used and
        why (e.g. use_gpu=True on a node without a GPU runs on the CPU).

    Raises:
        TrainingException: Unknown framework or version; the message lists supported ones.
    """
    data, notice = environments.framework_environment(
        framework, framework_version, use_gpu=use_gpu, gpu_present=gpu_present
    )
    return Environment._deserialize(data), notice


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UserErrorException(
            f"Environment name {name!r} is not valid: use 1-255 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit."
        )
