"""AciWebservice (v1's ``azureml.core.webservice.aci``): on Runyard a managed local service."""

from __future__ import annotations

from runyard.core.webservice.aci_config import (
    AciServiceDeploymentConfiguration,
    aci_deploy_configuration,
)
from runyard.core.webservice.webservice import Webservice

__all__ = ["AciServiceDeploymentConfiguration", "AciWebservice"]


class AciWebservice(Webservice):
    """A service deployed with ``AciWebservice.deploy_configuration(...)``: cpu_cores and
    memory_gb limit each scoring process; key auth when auth_enabled=True."""

    _webservice_type = "ACI"
    deploy_configuration = staticmethod(aci_deploy_configuration)
