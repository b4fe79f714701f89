"""What every webservice deployment configuration shares (v1's
``WebserviceDeploymentConfiguration``), and v1's service-name rule.

A configuration is a plain SDK object: it checks its values as v1 does and turns them into
the dict the serving layer reads (``_to_runyard()``). Settings Runyard has no use for
(SSL, VNets, liveness probes...) are kept by their v1 names under ``"recorded"``.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from runyard.exceptions import WebserviceException

__all__ = [
    "V1_DEFAULT_CPU_CORES",
    "V1_DEFAULT_MEMORY_GB",
    "WebserviceDeploymentConfiguration",
    "check_service_name",
]

# What v1's ACI/AKS allocate when cpu_cores / memory_gb are not given. Runyard applies no
# limit then; these are for reporting what a v1 service would have had.
V1_DEFAULT_CPU_CORES = 0.1
V1_DEFAULT_MEMORY_GB = 0.5

_SERVICE_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SERVICE_NAME_RULE = (
    "Error, provided service name is invalid. It must only consist of lowercase letters, "
    "numbers, or dashes, start with a letter, end with a letter or number, and be between 3 "
    "and 32 characters long."
)
_EXAMPLE_SERVICE_NAME = "chainer-mnist-1"


def check_service_name(name: object) -> None:
    """Checks a webservice name against v1's rule (``webservice_name_validation``).

    Args:
        name: The service name: 3-32 characters, lowercase letters, digits and '-',
            starting with a letter and ending with a letter or digit.

    Raises:
        WebserviceException: The name breaks the rule; the message has v1's text, the name
            and a valid name to use instead.
    """
    if isinstance(name, str) and 3 <= len(name) <= 32 and _SERVICE_NAME_RE.fullmatch(name):
        return
    raise WebserviceException(
        f"{_SERVICE_NAME_RULE} Got {name!r}; a valid name is, for example, "
        f"{_suggest_service_name(name)!r}."
    )


def _suggest_service_name(name: object) -> str:
    """The given name made valid (lowercased, other characters as '-'), else an example."""
    if not isinstance(name, str):
        return _EXAMPLE_SERVICE_NAME
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower())
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:32].rstrip("-")
    return cleaned if len(cleaned) >= 3 else _EXAMPLE_SERVICE_NAME


def _is_number(value: Any) -> bool:
    """Whether v1's ``value <= 0`` checks can compare it (a str cannot, in Python 3)."""
    try:
        value <= 0  # noqa: B015 - only whether the comparison works matters
    except TypeError:
        return False
    return True


def _not_a_number(name: str, value: Any) -> str:
    return f"Invalid configuration, {name} must be a number; got {value!r}."


class WebserviceDeploymentConfiguration(abc.ABC):
    """The base of every deployment configuration (v1's
    ``azureml.core.webservice.webservice.WebserviceDeploymentConfiguration``).

    Args:
        type: The Webservice class (or compute type string) the configuration deploys to.
        description: A description for the service.
        tags: Key-value tags for the service.
        properties: Key-value properties; they cannot change after deployment.
        primary_key: The primary auth key to use.
        secondary_key: The secondary auth key to use.
        location: The region (recorded).
    """

    # "ACI" | "AKS" | "Local": the Webservice.compute_type the configuration deploys to.
    _compute_type: ClassVar[str]
    # v1 names of the settings kept under "recorded" in _to_runyard() when given.
    _recorded_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        type: Any,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        primary_key: str | None = None,
        secondary_key: str | None = None,
        location: str | None = None,
    ) -> None:
        self._webservice_type = type
        self.description = description
        self.tags = tags
        self.properties = properties
        self.primary_key = primary_key
        self.secondary_key = secondary_key
        self.location = location

    @abc.abstractmethod
    def validate_configuration(self) -> None:
        """Checks that the configuration values are valid.

        Raises:
            WebserviceException: A value is invalid.
        """

    @abc.abstractmethod
    def print_deploy_configuration(self) -> None:
        """Prints the deployment configuration."""

    @abc.abstractmethod
    def _to_runyard(self) -> dict[str, Any]:
        """The plain JSON-able dict the serving layer consumes (see _runyard_dict)."""

    def _runyard_dict(
        self,
        *,
        cpu_cores: Any,
        memory_gb: Any,
        auth_enabled: bool,
        token_auth_enabled: bool,
        port: int | None,
        workers: int,
        scoring_timeout_ms: Any,
    ) -> dict[str, Any]:
        return {
            "compute_type": self._compute_type,
            "cpu_cores": None if cpu_cores is None else float(cpu_cores),
            "memory_gb": None if memory_gb is None else float(memory_gb),
            "auth_enabled": auth_enabled,
            "token_auth_enabled": token_auth_enabled,
            "port": port,
            "workers": workers,
            "tags": dict(self.tags or {}),
            "properties": dict(self.properties or {}),
            "description": self.description,
            "scoring_timeout_ms": None if scoring_timeout_ms is None else int(scoring_timeout_ms),
            "primary_key": self.primary_key,
            "secondary_key": self.secondary_key,
            "recorded": self._recorded(self._recorded_settings),
        }

    def _recorded(self, names: Iterable[str]) -> dict[str, Any]:
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}
