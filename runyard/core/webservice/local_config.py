"""``LocalWebserviceDeploymentConfiguration`` and ``LocalWebservice.deploy_configuration``'s
body (v1's ``azureml.core.webservice.local``).

v1 runs a local service in Docker; Runyard runs it as a local scoring process on the port
given (a free one when none is).
"""

from __future__ import annotations

from typing import Any

from runyard.core.webservice.deploy_config import WebserviceDeploymentConfiguration
from runyard.exceptions import WebserviceException

__all__ = ["LocalWebserviceDeploymentConfiguration", "local_deploy_configuration"]


class LocalWebserviceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    """How to deploy a local service (v1's name).

    Create one with ``LocalWebservice.deploy_configuration(port=None)``.

    Args:
        port: The local port of the service's HTTP endpoint, in [1, 65535]; None (or 0)
            lets Runyard pick a free port.

    Raises:
        WebserviceException: The port is not an integer in [1, 65535].
    """

    _compute_type = "Local"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(self._compute_type)
        self.port = port
        self.validate_configuration()

    def validate_configuration(self) -> None:
        """Checks the port as v1 does.

        Raises:
            WebserviceException: The port is not an integer in [1, 65535].
        """
        if self.port and not (isinstance(self.port, int) and 1 <= self.port <= 65535):
            raise WebserviceException(
                "Invalid configuration, port must be an integer in range [1, 65535]"
                f"; got {self.port!r}."
            )

    def print_deploy_configuration(self) -> None:
        """Prints nothing, as in v1."""

    def _to_runyard(self) -> dict[str, Any]:
        """The serving layer's dict: no auth, one worker, the port (None = pick a free one)."""
        self.validate_configuration()
        return self._runyard_dict(
            cpu_cores=None,
            memory_gb=None,
            auth_enabled=False,
            token_auth_enabled=False,
            port=int(self.port) if self.port else None,
            workers=1,
            scoring_timeout_ms=None,
        )


def local_deploy_configuration(port: int | None = None) -> LocalWebserviceDeploymentConfiguration:
    """``LocalWebservice.deploy_configuration``: a configuration for a local service.

    Args:
        port: The local port of the service's HTTP endpoint; None picks a free port.

    Returns:
        The LocalWebserviceDeploymentConfiguration.

    Raises:
        WebserviceException: The port is not an integer in [1, 65535].
    """
    return LocalWebserviceDeploymentConfiguration(port)
