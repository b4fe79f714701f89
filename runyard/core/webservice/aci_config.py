"""``AciServiceDeploymentConfiguration`` and ``AciWebservice.deploy_configuration``'s body
(v1's ``azureml.core.webservice.aci``).

Runyard serves an "ACI" service as one local scoring process: cpu_cores and memory_gb are
kept as given, auth_enabled chooses key auth (off by default, as in v1), and the Azure-only
settings (location, SSL, DNS label, customer managed keys, VNet...) are recorded.
"""

from __future__ import annotations

import os
from typing import Any

from runyard.core.webservice.deploy_config import (
    WebserviceDeploymentConfiguration,
    _is_number,
    _not_a_number,
)
from runyard.exceptions import WebserviceException

__all__ = ["AciServiceDeploymentConfiguration", "aci_deploy_configuration"]


class AciServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    """How to deploy a service "on Azure Container Instances" (v1's name).

    Create one with ``AciWebservice.deploy_configuration(...)``. Every argument defaults to
    None, meaning "not set"; the effective v1 defaults are 0.1 cores, 0.5 GB and no auth.

    Args:
        cpu_cores: CPU cores for the service (a decimal is fine); must be positive.
        memory_gb: Memory in GB (a decimal is fine); must be positive.
        tags: Key-value tags.
        properties: Key-value properties; they cannot change after deployment.
        description: A description.
        location: The Azure region (recorded).
        auth_enabled: Key auth on the scoring endpoint; defaults to False.
        ssl_enabled: SSL (recorded); needs ssl_cert_pem_file, ssl_key_pem_file and ssl_cname.
        enable_app_insights: Application Insights (recorded).
        ssl_cert_pem_file: The SSL certificate file; must exist when ssl_enabled.
        ssl_key_pem_file: The SSL key file; must exist when ssl_enabled.
        ssl_cname: The cname for SSL.
        dns_name_label: The DNS name label of the scoring endpoint (recorded).
        primary_key: The primary auth key; generated when not given.
        secondary_key: The secondary auth key; generated when not given.
        collect_model_data: Model data collection (recorded).
        cmk_vault_base_url: Customer managed key vault URL; all three cmk_* or none.
        cmk_key_name: Customer managed key name.
        cmk_key_version: Customer managed key version.
        vnet_name: Virtual network name; given together with subnet_name or not at all.
        subnet_name: Subnet name within vnet_name.

    Raises:
        WebserviceException: A value is invalid (v1's messages).
    """

    _compute_type = "ACI"
    _recorded_settings = (
        "location",
        "ssl_enabled",
        "enable_app_insights",
        "ssl_cert_pem_file",
        "ssl_key_pem_file",
        "ssl_cname",
        "dns_name_label",
        "collect_model_data",
        "cmk_vault_base_url",
        "cmk_key_name",
        "cmk_key_version",
        "vnet_name",
        "subnet_name",
    )

    def __init__(
        self,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        location: str | None = None,
        auth_enabled: bool | None = None,
        ssl_enabled: bool | None = None,
        enable_app_insights: bool | None = None,
        ssl_cert_pem_file: str | None = None,
        ssl_key_pem_file: str | None = None,
        ssl_cname: str | None = None,
        dns_name_label: str | None = None,
        primary_key: str | None = None,
        secondary_key: str | None = None,
        collect_model_data: bool | None = None,
        cmk_vault_base_url: str | None = None,
        cmk_key_name: str | None = None,
        cmk_key_version: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
    ) -> None:
        super().__init__(
            self._compute_type, description, tags, properties, primary_key, secondary_key, location
        )
        self.cpu_cores = cpu_cores
        self.memory_gb = memory_gb
        self.auth_enabled = auth_enabled
        self.ssl_enabled = ssl_enabled
        self.enable_app_insights = enable_app_insights
        self.ssl_cert_pem_file = ssl_cert_pem_file
        self.ssl_key_pem_file = ssl_key_pem_file
        self.ssl_cname = ssl_cname
        self.dns_name_label = dns_name_label
        self.collect_model_data = collect_model_data
        self.cmk_vault_base_url = cmk_vault_base_url
        self.cmk_key_name = cmk_key_name
        self.cmk_key_version = cmk_key_version
        self.vnet_name = vnet_name
        self.subnet_name = subnet_name
        self.validate_configuration()

    def validate_configuration(self) -> None:
        """Checks the values as v1 does.

        Raises:
            WebserviceException: The first invalid value, with v1's message.
        """
        for name in ("cpu_cores", "memory_gb"):
            value = getattr(self, name)
            if value is None:
                continue
            if not _is_number(value):
                raise WebserviceException(_not_a_number(name, value))
            if value <= 0:
                raise WebserviceException(f"Invalid configuration, {name} must be positive.")
        if self.ssl_enabled:
            if not self.ssl_cert_pem_file or not self.ssl_key_pem_file or not self.ssl_cname:
                raise WebserviceException(
                    "SSL is enabled, you must provide a SSL certificate, key, and cname."
                )
            if not os.path.exists(self.ssl_cert_pem_file):
                raise WebserviceException(
                    "Error, unable to find SSL cert pem file provided paths:\n"
                    f"{self.ssl_cert_pem_file}"
                )
            if not os.path.exists(self.ssl_key_pem_file):
                raise WebserviceException(
                    "Error, unable to find SSL key pem file provided paths:\n"
                    f"{self.ssl_key_pem_file}"
                )
        cmk = (self.cmk_vault_base_url, self.cmk_key_name, self.cmk_key_version)
        if not (all(cmk) or not any(cmk)):
            raise WebserviceException(
                "customer managed key vault_base_url, key_name and key_version must all have "
                "values or all are empty/null"
            )
        if bool(self.vnet_name) != bool(self.subnet_name):
            raise WebserviceException(
                "vnet_name and subnet_name must all have values or both are empty/null"
            )

    def print_deploy_configuration(self) -> None:
        """Prints the CPU and memory requirements, as v1 does (nothing when neither is set)."""
        deploy_config = []
        if self.cpu_cores:
            deploy_config.append(f"CPU requirement: {self.cpu_cores}")
        if self.memory_gb:
            deploy_config.append(f"Memory requirement: {self.memory_gb}GB")
        if deploy_config:
            print(", ".join(deploy_config))

    def _to_runyard(self) -> dict[str, Any]:
        """The serving layer's dict: one worker, no fixed port, no token auth."""
        self.validate_configuration()
        return self._runyard_dict(
            cpu_cores=self.cpu_cores,
            memory_gb=self.memory_gb,
            auth_enabled=bool(self.auth_enabled),
            token_auth_enabled=False,
            port=None,
            workers=1,
            scoring_timeout_ms=None,
        )


def aci_deploy_configuration(
    cpu_cores: float | None = None,
    memory_gb: float | None = None,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
    location: str | None = None,
    auth_enabled: bool | None = None,
    ssl_enabled: bool | None = None,
    enable_app_insights: bool | None = None,
    ssl_cert_pem_file: str | None = None,
    ssl_key_pem_file: str | None = None,
    ssl_cname: str | None = None,
    dns_name_label: str | None = None,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    collect_model_data: bool | None = None,
    cmk_vault_base_url: str | None = None,
    cmk_key_name: str | None = None,
    cmk_key_version: str | None = None,
    vnet_name: str | None = None,
    subnet_name: str | None = None,
) -> AciServiceDeploymentConfiguration:
    """``AciWebservice.deploy_configuration``: a configuration for deploying an ACI service.

    The arguments are AciServiceDeploymentConfiguration's; None means "not set".

    Returns:
        The AciServiceDeploymentConfiguration.

    Raises:
        WebserviceException: A value is invalid.
    """
    return AciServiceDeploymentConfiguration(
        cpu_cores=cpu_cores,
        memory_gb=memory_gb,
        tags=tags,
        properties=properties,
        description=description,
        location=location,
        auth_enabled=auth_enabled,
        ssl_enabled=ssl_enabled,
        enable_app_insights=enable_app_insights,
        ssl_cert_pem_file=ssl_cert_pem_file,
        ssl_key_pem_file=ssl_key_pem_file,
        ssl_cname=ssl_cname,
        dns_name_label=dns_name_label,
        primary_key=primary_key,
        secondary_key=secondary_key,
        collect_model_data=collect_model_data,
        cmk_vault_base_url=cmk_vault_base_url,
        cmk_key_name=cmk_key_name,
        cmk_key_version=cmk_key_version,
        vnet_name=vnet_name,
        subnet_name=subnet_name,
    )
