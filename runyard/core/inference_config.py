"""``InferenceConfig``: the scoring script and the environment a deployed model runs in
(v1's ``azureml.core.model.InferenceConfig``, re-exported from ``runyard.core.model``).

It is a plain SDK object: it checks its values as v1 does and turns them into the dict the
serving layer reads (``_to_runyard()``). No image is built; the Docker-only settings of the
legacy form are recorded.
"""

from __future__ import annotations

import ast
import json
import keyword
import logging
import os
import warnings
from typing import Any

from runyard.core.environment import Environment
from runyard.exceptions import UserErrorException, WebserviceException

logger = logging.getLogger(__name__)

__all__ = ["InferenceConfig"]

SUPPORTED_RUNTIMES = ("spark-py", "python", "python-slim")
_DOCUMENTED_RUNTIMES = ("spark-py", "python")
SUPPORTED_CUDA_VERSIONS = ("9.0", "9.1", "10.0")
HOW_TO_USE_ENVIRONMENTS_DOC_URL = (
    "https://docs.microsoft.com/azure/machine-learning/how-to-use-environments"
)
# The name legacy InferenceConfigs' environments get without a service name (v1 uses
# '<service name>-env').
DEFAULT_ENVIRONMENT_NAME = "inference-env"
# Either package carries v1's serving stack; v1 itself looks for azureml-defaults only.
_SERVING_PACKAGES = ("azureml-defaults", "azureml-inference-server-http")


class InferenceConfig:
    """The entry script and environment for deploying a model (``Model.deploy``).

    The modern form is ``entry_script`` + ``environment`` (+ ``source_directory``). The
    legacy form gives ``runtime='python'`` and ``conda_file`` instead of an environment;
    Runyard turns it into an Environment as v1 does (``Environment.from_conda_specification``
    on the conda file, or a default environment without one) and records the Docker-only
    settings (base_image, base_image_registry, extra_docker_file_steps, enable_gpu,
    cuda_version). The legacy arguments raise v1's DeprecationWarnings.

    Args:
        entry_script: The scoring script (with ``init()`` and ``run(raw_data)``), relative
            to source_directory when that is given, else to the current directory.
        runtime: Legacy: 'python' or 'spark-py'.
        conda_file: Legacy: a conda YAML, relative to source_directory when given.
        extra_docker_file_steps: Legacy: a file of Dockerfile steps (recorded).
        source_directory: The folder holding the entry script and the files it uses.
        enable_gpu: Legacy: GPU support in the image (recorded).
        description: A description.
        base_image: Legacy: a custom base image (recorded).
        base_image_registry: Legacy: the registry of base_image (its address and username
            are recorded, never its password).
        cuda_version: Legacy: '9.0', '9.1' or '10.0' (recorded).
        environment: The Environment to serve in. It excludes runtime, conda_file,
            extra_docker_file_steps, enable_gpu, cuda_version and base_image.

    Raises:
        WebserviceException: entry_script is missing, not a .py file, not importable by its
            name or not found; the environment is combined with legacy arguments; a path
            does not exist; the runtime or cuda_version is not supported (v1's messages).
        UserErrorException: The entry script cannot be read or is not valid Python.
    """

    def __init__(
        self,
        entry_script: str | os.PathLike[str],
        runtime: str | None = None,
        conda_file: str | os.PathLike[str] | None = None,
        extra_docker_file_steps: str | os.PathLike[str] | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        enable_gpu: bool | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: Any = None,
        cuda_version: str | None = None,
        environment: Environment | None = None,
    ) -> None:
        self.entry_script = entry_script
        self.runtime = runtime
        self.conda_file = conda_file
        self.extra_docker_file_steps = extra_docker_file_steps
        self.source_directory = source_directory
        self.enable_gpu = enable_gpu
        self.cuda_version = cuda_version
        self.description = description
        self.base_image = base_image
        # v1 puts an empty ContainerRegistry here; Runyard keeps None (no registries).
        self.base_image_registry = base_image_registry
        self.environment = environment
        self._validate(warn_stacklevel=4)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(entry_script={self.entry_script}, runtime={self.runtime}, "
            f"conda_file={self.conda_file}, "
            f"extra_docker_file_steps={self.extra_docker_file_steps}, "
            f"source_directory={self.source_directory}, enable_gpu={self.enable_gpu}, "
            f"base_image={self.base_image}, base_image_registry={self.base_image_registry})"
        )

    # ---- validation --------------------------------------------------------------------------
    def validate_configuration(self) -> None:
        """Checks the values as v1 does; relative paths are resolved against the cwd, and
        source_directory becomes its absolute real path (as in v1).

        Raises:
            WebserviceException: A value is invalid (v1's messages).
            UserErrorException: The entry script cannot be read or is not valid Python.
        """
        self._validate(warn_stacklevel=4)

    def _validate(self, *, warn_stacklevel: int) -> None:
        self._warn_deprecated(warn_stacklevel)
        self._check(os.getcwd())
        if self.source_directory:
            self.source_directory = os.path.realpath(self.source_directory)

    def _warn_deprecated(self, stacklevel: int) -> None:
        """v1's DeprecationWarnings for the legacy arguments, attributed to the caller."""
        messages = []
        if self.runtime:
            anchor = "#example-notebooks" if str(self.runtime).lower() == "spark-py" else ""
            messages.append(("runtime parameter has been deprecated", anchor))
        if self.conda_file:
            messages.append(("conda_file parameter has been deprecated", "#conda-and-pip-packages"))
        if self.extra_docker_file_steps:
            messages.append(
                (
                    "extra_docker_file_steps parameter has been deprecated",
                    "#docker-and-environments",
                )
            )
        if self.enable_gpu or self.cuda_version:
            messages.append(
                (
                    "enable_gpu and cuda_version parameters have been deprecated",
                    "#docker-and-environments",
                )
            )
        for text, anchor in messages:
            warnings.warn(
                f"{text} and will be removed in a future release. Please migrate to using "
                f"Environments. {HOW_TO_USE_ENVIRONMENTS_DOC_URL}{anchor}",
                category=DeprecationWarning,
                stacklevel=stacklevel,
            )
        if self.base_image or _registry_address(self.base_image_registry):
            warnings.warn(
                "base_image and base_image_registry parameters have been deprecated and will be "
                "removed in a future release. Please migrate to using Environments and custom "
                f"base image. {HOW_TO_USE_ENVIRONMENTS_DOC_URL}#example-notebooks",
                category=DeprecationWarning,
                stacklevel=stacklevel,
            )

    def _check(self, base_dir: str | os.PathLike[str], *, log_warnings: bool = True) -> None:
        """Every v1 check, with relative paths resolved against base_dir."""
        if not self.entry_script:
            raise WebserviceException("Error, need to specify entry_script.")
        if not isinstance(self.entry_script, (str, os.PathLike)):
            raise WebserviceException(
                f"Error, entry_script must be a path such as 'score.py'; got {self.entry_script!r}."
            )
        if self.environment is not None:
            self._check_environment(self.environment, log_warnings=log_warnings)
        source_directory = self._source_directory(base_dir)
        if source_directory is not None:
            _require_path(source_directory, "source directory")
        where = (
            "entry_script should be path relative to current working directory"
            if source_directory is None
            else "entry_script should be path relative to source_directory"
        )
        _require_path(self._entry_script_path(base_dir), "entry_script", where)
        script_name, extension = os.path.splitext(os.path.basename(self.entry_script))
        if extension != ".py":
            raise WebserviceException(
                "Invalid driver type. Currently only Python drivers are supported."
            )
        if not script_name.isidentifier() or keyword.iskeyword(script_name):
            raise WebserviceException(
                f'Error, invalid name "{script_name}" for provided entry script. The script must '
                "be importable as a valid python module, and must adhere to standard module "
                "naming. This means it must be a valid python identifier and not a part of the "
                "set of python standard keywords."
            )
        if self.runtime and str(self.runtime).lower() not in SUPPORTED_RUNTIMES:
            raise WebserviceException(
                "Provided runtime not supported. Possible runtimes are: "
                + "|".join(_DOCUMENTED_RUNTIMES)
            )
        if self.cuda_version is not None and (
            str(self.cuda_version).lower() not in SUPPORTED_CUDA_VERSIONS
        ):
            raise WebserviceException(
                "Provided cuda_version not supported. Possible cuda_versions are: "
                + "|".join(SUPPORTED_CUDA_VERSIONS)
            )
        if self.conda_file:
            _require_path(self._relative_path(self.conda_file, base_dir), "Conda file")
        if self.extra_docker_file_steps:
            _require_path(
                self._relative_path(self.extra_docker_file_steps, base_dir),
                "extra docker file steps",
            )
        _check_script_content(self._entry_script_path(base_dir))

    def _check_environment(self, environment: Any, *, log_warnings: bool) -> None:
        if not isinstance(environment, Environment):
            raise WebserviceException(
                "Error, environment must be an azureml.core.Environment, such as "
                "Environment.from_conda_specification(name='myenv', file_path='myenv.yml'); "
                f"got {type(environment).__name__}."
            )
        legacy = (self.runtime, self.conda_file, self.extra_docker_file_steps)
        if any(legacy) or self.enable_gpu or self.cuda_version or self.base_image:
            raise WebserviceException(
                "Error, unable to provide runtime, conda_file, extra_docker_file_steps, "
                "enable_gpu, cuda_version, or base_image along with an environment object."
            )
        cd = environment.python.conda_dependencies
        serving = cd is None or any(p in json.dumps(cd.as_dict()) for p in _SERVING_PACKAGES)
        if log_warnings and not serving:
            logger.warning(
                "Warning, azureml-defaults not detected in provided environment pip "
                "dependencies. The azureml-defaults package contains requirements for the "
                "inference stack to run, and should be included."
            )
        if environment.docker.base_dockerfile and environment.docker.base_image:
            raise WebserviceException(
                "Error, only one of base_dockerfile or base_image should be provided to the "
                "environment.docker object."
            )

    def validation_script_content(self) -> None:
        """Checks that the entry script parses as Python (v1's name).

        Raises:
            UserErrorException: The script cannot be read or has a syntax error.
        """
        _check_script_content(self._entry_script_path(os.getcwd()))

    # ---- paths -------------------------------------------------------------------------------
    def _source_directory(self, base_dir: str | os.PathLike[str]) -> str | None:
        if not self.source_directory:
            return None
        return os.path.realpath(os.path.join(base_dir, self.source_directory))

    def _relative_path(self, path: str | os.PathLike[str], base_dir: str | os.PathLike[str]) -> str:
        """A path given relative to source_directory (else to base_dir), made absolute."""
        folder = self._source_directory(base_dir) or base_dir
        return os.path.abspath(os.path.join(folder, path))

    def _entry_script_path(self, base_dir: str | os.PathLike[str]) -> str:
        return self._relative_path(self.entry_script, base_dir)

    # ---- the serving layer's view ------------------------------------------------------------
    def _to_runyard(
        self, base_dir: str | os.PathLike[str] | None = None, *, service_name: str | None = None
    ) -> dict[str, Any]:
        """The plain JSON-able dict the serving layer consumes.

        Args:
            base_dir: The folder relative paths are resolved against (v1 uses the current
                directory, the default).
            service_name: Names the environment built for the legacy form
                ('<service_name>-env', as v1 does; else 'inference-env').

        Returns:
            ``{"entry_script": absolute script path, "source_directory": absolute folder or
            None, "environment": the Environment's serialized dict (as in a run definition),
            "description": ..., "recorded": {the legacy Docker settings given, by v1 name}}``.

        Raises:
            WebserviceException: A check fails against base_dir (e.g. the script is gone).
            InvalidEnvironmentDefinition: The legacy conda_file is not a conda YAML.
        """
        base = os.fspath(base_dir) if base_dir is not None else os.getcwd()
        self._check(base, log_warnings=False)  # the constructor logged them
        return {
            "entry_script": self._entry_script_path(base),
            "source_directory": self._source_directory(base),
            "environment": self._environment(base, service_name)._serialize_to_dict(),
            "description": self.description,
            "recorded": self._recorded(base),
        }

    def _environment(self, base_dir: str, service_name: str | None) -> Environment:
        """The environment given, or the legacy form's: the conda file's, else a default one
        (Python with azureml-defaults). v1's convert_parts_to_environment does the same."""
        if self.environment is not None:
            return self.environment
        name = f"{service_name}-env" if service_name else DEFAULT_ENVIRONMENT_NAME
        if self.conda_file:
            return Environment.from_conda_specification(
                name=name, file_path=self._relative_path(self.conda_file, base_dir)
            )
        return Environment(name)

    def _recorded(self, base_dir: str) -> dict[str, Any]:
        recorded: dict[str, Any] = {}
        if self.runtime is not None:
            recorded["runtime"] = self.runtime
        if self.conda_file:
            recorded["conda_file"] = self._relative_path(self.conda_file, base_dir)
        if self.extra_docker_file_steps:
            recorded["extra_docker_file_steps"] = self._relative_path(
                self.extra_docker_file_steps, base_dir
            )
        for name in ("enable_gpu", "cuda_version", "base_image"):
            if getattr(self, name) is not None:
                recorded[name] = getattr(self, name)
        if self.base_image_registry is not None:
            recorded["base_image_registry"] = {
                "address": _registry_address(self.base_image_registry),
                "username": _registry_field(self.base_image_registry, "username"),
            }
        return recorded


def _registry_field(registry: Any, name: str) -> Any:
    """A ContainerRegistry-like object's field, or a dict's key."""
    if isinstance(registry, dict):
        return registry.get(name)
    return getattr(registry, name, None)


def _registry_address(registry: Any) -> Any:
    return None if registry is None else _registry_field(registry, "address")


def _require_path(path: str, name: str, extra_message: str = "") -> None:
    """v1's validate_path_exists_or_throw."""
    path = os.path.normpath(path)
    if not os.path.exists(path):
        raise WebserviceException(f"{name} {path} doesn't exist. {extra_message}".rstrip())


def _check_script_content(path: str) -> None:
    """v1's validation_script_content: the script must be readable and parse."""
    try:
        with open(path, encoding="utf-8") as script:
            contents = script.read()
    except OSError:
        raise UserErrorException(
            f"Failed to open {path}, please check if it exists and the read permission. "
            "We can not deploy the model if we can not access this file."
        ) from None
    except UnicodeDecodeError as exc:
        raise UserErrorException(
            f"{path} is not UTF-8 text ({exc}). Please check it and try local deployment to verify."
        ) from None
    try:
        ast.parse(contents, path)
    except (SyntaxError, ValueError) as exc:
        raise UserErrorException(
            f"{exc}. Please check it and try local deployment to verify."
        ) from None
