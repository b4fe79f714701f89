"""``CondaDependencies``: v1's conda environment specification object.

The object holds a conda YAML structure (name, dependencies with a nested ``pip`` list,
channels), as v1's does. Runyard has no conda: when an environment is built, the conda
packages are mapped to their PyPI twins (``runyard._envs.conda_map``).
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runyard.exceptions import InvalidEnvironmentDefinition, UserErrorException

logger = logging.getLogger(__name__)

PYTHON_DEFAULT_VERSION = "3.10.18"
DEFAULT_SDK_ORIGIN = "azureml-defaults"
# The v1 SDK release whose names Runyard follows; azureml-* packages get pinned to it.
AZUREML_SDK_VERSION = "1.60.0"
DEFAULT_CHANNELS = ("anaconda", "conda-forge")
CONDA_FILE_NAME = "conda_dependencies.yml"

_HEADER = (
    "# Conda environment specification. The dependencies defined in this file will\n"
    "# be automatically provisioned for runs with userManagedDependencies=False.\n"
    "# Runyard maps conda packages to their PyPI equivalents and builds a venv with uv.\n\n"
)
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _package_name(spec: str) -> str:
    """'numpy>=1.2', 'numpy=1.21', 'conda-forge::numpy' -> 'numpy' (lower-cased, _ == -).

    A URL or path line is its own identity (as in v1), so two ``git+https://...`` lines
    are two packages; its name is known only from ``#egg=<name>`` or a wheel's file name.
    """
    stripped = spec.strip()
    if "://" in stripped.split(" @ ", 1)[0] or stripped.startswith((".", "/", "~")):
        egg = re.search(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)", stripped)
        if egg:
            return re.sub(r"[-_.]+", "-", egg.group(1)).lower()
        if stripped.endswith(".whl"):
            return re.sub(r"[-_.]+", "-", stripped.rsplit("/", 1)[-1].split("-", 1)[0]).lower()
        return stripped
    spec = spec.split("::", 1)[-1]
    match = _NAME_RE.match(spec)
    name = match.group(1) if match else spec.strip()
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_option(entry: str) -> bool:
    return entry.strip().startswith("-")


def _option_key(option: str) -> str:
    return re.split(r"[\s=]", option.strip(), maxsplit=1)[0]


class CondaDependencies:
    """The conda and pip packages of an environment.

    Args:
        conda_dependencies_file_path: A conda environment YAML to load. Its ``pip:``
            section becomes the pip packages.
        _underlying_structure: The YAML structure as a dict (used when deserializing).

    Raises:
        InvalidEnvironmentDefinition: The file is missing or is not a conda YAML.
    """

    def __init__(
        self,
        conda_dependencies_file_path: str | os.PathLike[str] | None = None,
        _underlying_structure: dict[str, Any] | None = None,
    ) -> None:
        if conda_dependencies_file_path is not None and _underlying_structure is not None:
            raise UserErrorException(
                "Give CondaDependencies either conda_dependencies_file_path or "
                "_underlying_structure, not both."
            )
        if conda_dependencies_file_path is not None:
            structure = _load_yaml(Path(conda_dependencies_file_path))
        elif _underlying_structure is not None:
            structure = copy.deepcopy(dict(_underlying_structure))
        else:
            structure = {
                "name": "project_environment",
                "dependencies": [f"python={PYTHON_DEFAULT_VERSION}", {"pip": [DEFAULT_SDK_ORIGIN]}],
                "channels": list(DEFAULT_CHANNELS),
            }
        _check_structure(structure, str(conda_dependencies_file_path or "<structure>"))
        self._conda_dependencies: dict[str, Any] = structure
        self._path = Path(conda_dependencies_file_path) if conda_dependencies_file_path else None

    @staticmethod
    def create(
        pip_indexurl: str | None = None,
        pip_packages: Iterable[str] | None = None,
        conda_packages: Iterable[str] | None = None,
        python_version: str = PYTHON_DEFAULT_VERSION,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """A new specification.

        Args:
            pip_indexurl: Index URL for pip (``--index-url``).
            pip_packages: pip packages; ``None`` means ``['azureml-defaults']``, a list
                replaces that default.
            conda_packages: conda packages (mapped to PyPI when built).
            python_version: The Python version.
            pin_sdk_version: Pin unpinned ``azureml-*`` packages to the v1 SDK version.

        Returns:
            The CondaDependencies.
        """
        pips = [DEFAULT_SDK_ORIGIN] if pip_packages is None else list(pip_packages)
        if isinstance(pip_packages, str) or isinstance(conda_packages, str):
            raise UserErrorException(
                "pip_packages and conda_packages are lists of package specs, such as "
                "pip_packages=['numpy', 'pytest']; got a single string."
            )
        cd = CondaDependencies(
            _underlying_structure={
                "name": "project_environment",
                "dependencies": [f"python={python_version}", {"pip": []}],
                "channels": list(DEFAULT_CHANNELS),
            }
        )
        if pip_indexurl:
            cd.set_pip_option(f"--index-url {pip_indexurl}")
        for package in pips:
            name = _package_name(package)
            unpinned = name == package.strip().lower().replace("_", "-")
            if pin_sdk_version and name.startswith("azureml-") and unpinned:
                package = f"{package.strip()}~={AZUREML_SDK_VERSION}"
            cd.add_pip_package(package)
        for package in conda_packages or ():
            cd.add_conda_package(package)
        return cd

    # ---- structure helpers -------------------------------------------------------------
    def _deps(self) -> list[Any]:
        return self._conda_dependencies.setdefault("dependencies", [])

    def _pip_list(self, create: bool) -> list[str] | None:
        for entry in self._deps():
            if isinstance(entry, dict) and "pip" in entry:
                if entry["pip"] is None:
                    entry["pip"] = []
                return entry["pip"]
        if not create:
            return None
        pip: list[str] = []
        self._deps().append({"pip": pip})
        return pip

    # ---- packages ----------------------------------------------------------------------
    @property
    def conda_packages(self) -> list[str]:
        """The conda package specs, ``python=...`` included."""
        return [d for d in self._deps() if isinstance(d, str)]

    @property
    def pip_packages(self) -> list[str]:
        """The pip package specs (pip options excluded)."""
        return [p for p in (self._pip_list(False) or []) if not _is_option(p)]

    @property
    def pip_options(self) -> list[str]:
        """pip options such as ``--index-url URL``."""
        return [p for p in (self._pip_list(False) or []) if _is_option(p)]

    @property
    def conda_channels(self) -> list[str]:
        return list(self._conda_dependencies.get("channels") or [])

    def add_conda_package(self, conda_package: str) -> None:
        """Adds a conda package, replacing one of the same name."""
        _check_spec(conda_package, "conda_package")
        self.remove_conda_package(conda_package)
        deps = self._deps()
        index = next((i for i, d in enumerate(deps) if isinstance(d, dict)), len(deps))
        deps.insert(index, conda_package.strip())

    def remove_conda_package(self, conda_package: str) -> None:
        """Removes the conda package of that name (any version)."""
        name = _package_name(conda_package)
        self._deps()[:] = [
            d for d in self._deps() if not (isinstance(d, str) and _package_name(d) == name)
        ]

    def add_pip_package(self, pip_package: str) -> None:
        """Adds a pip package, replacing one of the same name."""
        _check_spec(pip_package, "pip_package")
        if _is_option(pip_package):
            raise UserErrorException(
                f"{pip_package!r} is a pip option, not a package; use set_pip_option()."
            )
        self.remove_pip_package(pip_package)
        pip = self._pip_list(True)
        assert pip is not None
        pip.append(pip_package.strip())

    def remove_pip_package(self, pip_package: str) -> None:
        """Removes the pip package of that name (any version)."""
        pip = self._pip_list(False)
        if pip is None:
            return
        name = _package_name(pip_package)
        pip[:] = [p for p in pip if _is_option(p) or _package_name(p) != name]

    def set_pip_option(self, pip_option: str) -> None:
        """Adds a pip option such as ``--extra-index-url URL``, replacing the same option."""
        _check_spec(pip_option, "pip_option")
        if not _is_option(pip_option):
            raise UserErrorException(
                f"{pip_option!r} is not a pip option; options start with '-' "
                "(e.g. '--extra-index-url https://...'). Add packages with add_pip_package()."
            )
        pip = self._pip_list(True)
        assert pip is not None
        key = _option_key(pip_option)
        repeatable = key in ("--extra-index-url", "--find-links", "-f")
        pip[:] = [p for p in pip if repeatable or not _is_option(p) or _option_key(p) != key]
        if pip_option.strip() not in pip:
            pip.insert(len(self.pip_options), pip_option.strip())

    def set_pip_requirements(self, pip_requirements: Iterable[str]) -> None:
        """Replaces the whole pip section with these lines (packages and options)."""
        lines = [str(line).strip() for line in pip_requirements if str(line).strip()]
        pip = self._pip_list(True)
        assert pip is not None
        pip[:] = lines

    def add_channel(self, channel: str) -> None:
        _check_spec(channel, "channel")
        channels = self._conda_dependencies.setdefault("channels", [])
        if channel not in channels:
            channels.append(channel)

    def remove_channel(self, channel: str) -> None:
        channels = self._conda_dependencies.get("channels") or []
        if channel in channels:
            channels.remove(channel)

    # ---- python --------------------------------------------------------------------------
    def get_python_version(self) -> str | None:
        for dep in self.conda_packages:
            if _package_name(dep) == "python":
                match = re.match(r"^\s*python\s*=+\s*([0-9][0-9.*]*)", dep)
                return match.group(1) if match else None
        return None

    def set_python_version(self, version: str) -> None:
        """Sets the ``python=<version>`` conda package."""
        if not re.fullmatch(r"3(\.\d+){1,2}", str(version).strip()):
            raise UserErrorException(
                f"Python version {version!r} is not a version such as '3.11' or '3.10.18'."
            )
        self.remove_conda_package("python")
        self._deps().insert(0, f"python={str(version).strip()}")

    # ---- serialization ---------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._conda_dependencies)

    def serialize_to_string(self) -> str:
        # late: light path; PyYAML is not in a job's environment, and only files need it
        import yaml  # type: ignore[import-untyped]

        return _HEADER + yaml.safe_dump(
            self._conda_dependencies, sort_keys=False, default_flow_style=False
        )

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        """Writes the YAML to ``path`` (default: the file it was loaded from).

        Returns:
            The path written.
        """
        target = Path(path) if path is not None else self._path
        if target is None:
            raise UserErrorException(
                "This CondaDependencies was not loaded from a file; pass save(path=...)."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.serialize_to_string(), encoding="utf-8")
        return str(target)

    def save_to_file(
        self, base_directory: str | os.PathLike[str], conda_file_path: str | None = None
    ) -> str:
        """Writes the YAML to ``base_directory/conda_file_path`` (conda_dependencies.yml)."""
        return self.save(Path(base_directory) / (conda_file_path or CONDA_FILE_NAME))

    def __str__(self) -> str:
        return self.serialize_to_string()

    def __repr__(self) -> str:
        return f"CondaDependencies({self._conda_dependencies!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CondaDependencies):
            return NotImplemented
        return self._conda_dependencies == other._conda_dependencies

    __hash__ = None  # type: ignore[assignment]


def _check_spec(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise UserErrorException(
            f"{what} must be a non-empty string such as 'numpy'; got {value!r}."
        )


def _load_yaml(path: Path) -> dict[str, Any]:
    # late: light path; PyYAML is not in a job's environment, and only files need it
    import yaml  # type: ignore[import-untyped]

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidEnvironmentDefinition(
            f"Conda file {str(path)!r} does not exist; check the path (relative paths are "
            f"resolved from {os.getcwd()!r})."
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidEnvironmentDefinition(
            f"Conda file {str(path)!r} is not valid YAML: {exc}. A conda environment file has "
            "'name:', 'channels:' and 'dependencies:' keys."
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidEnvironmentDefinition(
            f"Conda file {str(path)!r} must hold a mapping with 'dependencies:' (a list); "
            f"it holds a {type(data).__name__}."
        )
    return data


def _check_structure(data: dict[str, Any], where: str) -> None:
    deps = data.get("dependencies")
    if deps is None:
        data["dependencies"] = []
        return
    if not isinstance(deps, list):
        raise InvalidEnvironmentDefinition(
            f"'dependencies' in {where} must be a list of package specs; got {deps!r}."
        )
    for i, dep in enumerate(deps):
        if isinstance(dep, str | int | float) and not isinstance(dep, bool):
            deps[i] = str(dep)
            continue
        if isinstance(dep, dict) and set(dep) == {"pip"} and isinstance(dep["pip"], list | None):
            dep["pip"] = [str(p) for p in dep["pip"] or []]
            continue
        raise InvalidEnvironmentDefinition(
            f"Entry {dep!r} of 'dependencies' in {where} is neither a conda package spec "
            "nor a '- pip: [...]' list."
        )
    channels = data.get("channels")
    if channels is not None and not isinstance(channels, list):
        raise InvalidEnvironmentDefinition(
            f"'channels' in {where} must be a list; got {channels!r}."
        )
