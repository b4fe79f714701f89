"""Framework estimators (v1: ``azureml.train.dnn``): Chainer, PyTorch and TensorFlow.

Each runs in Runyard's curated environment for its framework and version, named as v1's
curated ones (``AzureML-Chainer-7.8.1-CPU``), with the user's pip_packages and conda_packages
merged in. Only versions that install on Python 3.10+ are supported; v1's older Chainer
versions are accepted as aliases of 7.8.1 (see ``Chainer``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from runyard.core.environment import Environment, curated_environment
from runyard.exceptions import TrainingException
from runyard.train._distributed import Gloo, Mpi, Nccl, ParameterServer
from runyard.train.estimator import Estimator

__all__ = ["Chainer", "PyTorch", "TensorFlow", "Mpi", "ParameterServer", "Gloo", "Nccl"]

logger = logging.getLogger(__name__)


class _FrameworkEstimator(Estimator):
    """v1's ``_FrameworkBaseEstimator``: an Estimator whose environment is the framework's."""

    FRAMEWORK_NAME: ClassVar[str]
    DEFAULT_VERSION: ClassVar[str]
    _SUPPORTED_VERSIONS: ClassVar[tuple[str, ...]]
    # v1 versions Runyard cannot install here, run as a supported one: {old: new}
    _VERSION_ALIASES: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        source_directory: str,
        *,
        framework_version: str | None = None,
        _enable_optimized_mode: bool = False,
        **kwargs: Any,
    ) -> None:
        self.framework_version = self._resolve_version(framework_version)
        self._enable_optimized_mode = _enable_optimized_mode
        super().__init__(source_directory, **kwargs)

    @classmethod
    def get_supported_versions(cls) -> list[str]:
        """Framework versions this estimator can run.

        Returns:
            Version strings, oldest first.
        """
        return list(cls._SUPPORTED_VERSIONS)

    @classmethod
    def _resolve_version(cls, framework_version: str | None) -> str:
        if framework_version is None:
            logger.warning(
                "framework_version is not specified, defaulting to version %s.",
                cls.DEFAULT_VERSION,
            )
            return cls.DEFAULT_VERSION
        version = str(framework_version)
        if version in cls._SUPPORTED_VERSIONS:
            return version
        if version in cls._VERSION_ALIASES:
            new = cls._VERSION_ALIASES[version]
            logger.warning(
                "%s %s does not install on this Python; running with %s %s instead.",
                cls.FRAMEWORK_NAME,
                version,
                cls.FRAMEWORK_NAME,
                new,
            )
            return new
        aliases = ""
        if cls._VERSION_ALIASES:
            pairs = ", ".join(f"{old} runs as {new}" for old, new in cls._VERSION_ALIASES.items())
            aliases = f" (v1's {pairs})"
        raise TrainingException(
            f"framework_version={framework_version!r} is not supported by {cls.__name__}. "
            f"Supported versions: {', '.join(cls._SUPPORTED_VERSIONS)}{aliases}. "
            "Omit framework_version to use the default."
        )

    @property
    def _curated_environment_name(self) -> str:
        device = "GPU" if self.use_gpu else "CPU"
        return f"AzureML-{self.FRAMEWORK_NAME}-{self.framework_version}-{device}"

    def _environment(self) -> Any:
        # v1: a conda file or environment_definition means no framework packages are added.
        if self.environment_definition is not None or self.conda_dependencies_file is not None:
            return super()._environment()
        env, notice = curated_environment(
            self.FRAMEWORK_NAME, self.framework_version, use_gpu=self.use_gpu
        )
        # the driver log shows this line (e.g. use_gpu=True on a node without a GPU)
        self._environment_notice = notice
        if self.pip_packages or self.conda_packages or self.pip_requirements_file:
            # no longer the curated environment itself; registering must not overwrite it
            env.name = f"{env.name}-with-user-packages"
        _merge_packages(env, self._user_pip_packages(), self.conda_packages)
        if self.custom_docker_image is not None:
            env.docker.base_image = self.custom_docker_image
        return env

    def _user_pip_packages(self) -> list[str]:
        packages = list(self.pip_packages)
        if self.pip_requirements_file is not None:
            path = self._source_path(self.pip_requirements_file)
            conda = Environment.from_pip_requirements("req", path).python.conda_dependencies
            assert conda is not None  # from_pip_requirements always sets one
            packages += conda.pip_packages
        return packages


def _merge_packages(env: Any, pip_packages: list[str], conda_packages: list[str]) -> None:
    """v1's rule: the user's packages join the framework's; a package the framework already
    lists is replaced by the user's spec, with a warning. A bare name (``'numpy'``) keeps the
    framework's spec (``numpy<1.24`` for Chainer), and the curated build constraints apply
    to every install anyway, so an unpinned package cannot break the framework's pins.
    """
    deps = env.python.conda_dependencies
    for package in pip_packages:
        name = _package_name(package)
        existing = [p for p in deps.pip_packages if _package_name(p) == name]
        if existing and package.strip().lower().replace("_", "-") == name:
            continue  # a bare name asks for nothing the framework's pinned spec lacks
        if existing and existing[0] != package:
            logger.warning(
                "pip package %r replaces %r from the framework's environment.", package, existing[0]
            )
        deps.add_pip_package(package)
    for package in conda_packages:
        deps.add_conda_package(package)


def _package_name(spec: str) -> str:
    return re.split(r"[<>=!~\[; ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


class Chainer(_FrameworkEstimator):
    """Train with Chainer (v1: ``azureml.train.dnn.Chainer``).

    Runyard runs Chainer 7.8.1, the release that installs on Python 3.11. v1 notebooks often
    pin ``framework_version='5.1.0'`` or ``'7.0.0'``; those are accepted, logged, and run with
    7.8.1 (whose API they use), rather than failing a notebook that would otherwise work.
    Distributed training: ``Mpi`` only, as in v1.

    Args:
        source_directory: see Estimator.
        framework_version: '7.8.1' (default); '5.1.0' and '7.0.0' run as 7.8.1.
        **kwargs: every other Estimator argument, keyword-only.
    """

    FRAMEWORK_NAME = "Chainer"
    DEFAULT_VERSION = "7.8.1"
    # must equal runyard._envs.curated.CHAINER_VERSIONS (a test checks); not imported from
    # there because runyard._envs needs packaging, which job-side imports must not.
    _SUPPORTED_VERSIONS = ("7.8.1",)
    _VERSION_ALIASES = {"5.1.0": "7.8.1", "7.0.0": "7.8.1"}
    _supported_backends = ("mpi",)


class PyTorch(_FrameworkEstimator):
    """Train with PyTorch (v1: ``azureml.train.dnn.PyTorch``).

    v1's 1.0-1.6 have no wheels for Python 3.11. Construction and validation work; Runyard
    has no curated PyTorch environment yet, so submitting needs environment_definition=
    (otherwise submit fails naming the frameworks that are curated). Distributed training:
    Mpi, Gloo or Nccl.
    """

    FRAMEWORK_NAME = "PyTorch"
    DEFAULT_VERSION = "2.5"
    _SUPPORTED_VERSIONS = ("2.5",)
    _supported_backends = ("mpi", "gloo", "nccl")


class TensorFlow(_FrameworkEstimator):
    """Train with TensorFlow (v1: ``azureml.train.dnn.TensorFlow``).

    v1's 1.x-2.3 have no wheels for Python 3.11. As for PyTorch, submitting needs
    environment_definition= until a curated TensorFlow environment exists. Distributed
    training: Mpi or ParameterServer.
    """

    FRAMEWORK_NAME = "TensorFlow"
    DEFAULT_VERSION = "2.16"
    _SUPPORTED_VERSIONS = ("2.16",)
    _supported_backends = ("mpi", "ps")
