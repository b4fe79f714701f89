"""LocalWebservice (v1's ``azureml.core.webservice.local``): v1 runs it in local Docker;
Runyard runs it as a managed local service on the port given (a free one when none is)."""

from __future__ import annotations

from runyard.core.webservice.local_config import (
    LocalWebserviceDeploymentConfiguration,
    local_deploy_configuration,
)
from runyard.core.webservice.webservice import Webservice

__all__ = ["LocalWebservice", "LocalWebserviceDeploymentConfiguration"]


class LocalWebservice(Webservice):
    _webservice_type = "Local"
    deploy_configuration = staticmethod(local_deploy_configuration)
