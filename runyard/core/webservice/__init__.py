"""Web services: deployed models answering over HTTP (v1's ``azureml.core.webservice``)."""

from runyard.core.webservice.aci import AciServiceDeploymentConfiguration, AciWebservice
from runyard.core.webservice.aks import AksServiceDeploymentConfiguration, AksWebservice
from runyard.core.webservice.local import LocalWebservice, LocalWebserviceDeploymentConfiguration
from runyard.core.webservice.webservice import Webservice
from runyard.exceptions import WebserviceException

__all__ = [
    "AciServiceDeploymentConfiguration",
    "AciWebservice",
    "AksServiceDeploymentConfiguration",
    "AksWebservice",
    "LocalWebservice",
    "LocalWebserviceDeploymentConfiguration",
    "Webservice",
    "WebserviceException",
]
