"""The sections of an ``Environment``: ``env.python`` (with its build settings) and
``env.docker``, with v1's attribute names and rules."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runyard._services.environments import DEFAULT_CPU_IMAGE
from runyard.core.conda_dependencies import CondaDependencies

logger = logging.getLogger(__name__)


class PythonBuildSettings:
    """Runyard's pip build settings (no v1 equivalent; set by curated environments).

    ``constraints`` pin versions without requiring the package (pip ``-c``): a user's
    unpinned ``numpy`` keeps a curated ``numpy<1.24``. ``pre_install_packages`` are
    installed first, and ``no_build_isolation_packages`` build their sdists against them.
    """

    def __init__(
        self,
        constraints: Iterable[str] = (),
        pre_install_packages: Iterable[str] = (),
        no_build_isolation_packages: Iterable[str] = (),
    ) -> None:
        self.constraints = list(constraints)
        self.pre_install_packages = list(pre_install_packages)
        self.no_build_isolation_packages = list(no_build_isolation_packages)

    def _to_dict(self) -> dict[str, list[str]]:
        return {
            "constraints": list(self.constraints),
            "preInstallPackages": list(self.pre_install_packages),
            "noBuildIsolationPackages": list(self.no_build_isolation_packages),
        }


class PythonSection:
    """``env.python``: the interpreter and its packages."""

    def __init__(self) -> None:
        self.interpreter_path = "python"
        self.user_managed_dependencies = False
        self.conda_dependencies: CondaDependencies | None = CondaDependencies()
        self.base_conda_environment: str | None = None
        self.build_settings = PythonBuildSettings()


class DockerSection:
    """``env.docker``. ``base_image``, ``base_dockerfile`` and ``build_context`` are
    mutually exclusive: setting one clears the others, as in v1."""

    def __init__(self) -> None:
        self._base_image: str | None = DEFAULT_CPU_IMAGE
        self._base_dockerfile: str | None = None
        self._build_context: str | None = None
        self._enabled = False
        self.shm_size: str | None = "2g"
        self.shared_volumes = True
        self.arguments: list[str] = []
        self.base_image_registry: dict[str, Any] = {}

    @property
    def base_image(self) -> str | None:
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        if value is not None:
            self._base_dockerfile = self._build_context = None
        self._base_image = value

    @property
    def base_dockerfile(self) -> str | None:
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value: str | None) -> None:
        if value is not None:
            path = Path(value)
            # v1 accepts a Dockerfile's contents or a path to one.
            if "\n" not in value and path.is_file():
                value = path.read_text(encoding="utf-8")
            self._base_image = self._build_context = None
        self._base_dockerfile = value

    @property
    def build_context(self) -> str | None:
        return self._build_context

    @build_context.setter
    def build_context(self, value: str | None) -> None:
        if value is not None:
            self._base_image = self._base_dockerfile = None
        self._build_context = value

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        logger.warning(
            "'enabled' is deprecated. Please use the azureml.core.runconfig."
            "DockerConfiguration object with the 'use_docker' param instead."
        )
        self._enabled = bool(value)
