"""``AksServiceDeploymentConfiguration`` and ``AksWebservice.deploy_configuration``'s body
(v1's ``azureml.core.webservice.aks``).

Runyard serves an "AKS" service locally: replicas become scoring worker processes (see
``AksServiceDeploymentConfiguration.workers``), key auth is on by default as in v1, and the
Kubernetes-only settings (probes, namespace, limits, autoscaler tuning...) are recorded.
"""

from __future__ import annotations

import re
from typing import Any

from runyard.core.webservice.deploy_config import (
    WebserviceDeploymentConfiguration,
    _is_number,
    _not_a_number,
)
from runyard.exceptions import WebserviceException

__all__ = ["MAX_WORKERS", "AksServiceDeploymentConfiguration", "aks_deploy_configuration"]

# Kubernetes namespaces must be valid lowercase DNS labels (v1's NAMESPACE_REGEX).
NAMESPACE_REGEX = "^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$"
# Replicas run as worker processes on this one machine; more than this would only contend.
MAX_WORKERS = 8


def _greater_than_zero(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(setting, v1's message when it is not above zero) pairs."""
    return tuple((name, f"{name} must be greater than zero") for name in names)


# In v1's order: the probe settings come before the namespace check, these after it.
_MUST_BE_POSITIVE = _greater_than_zero(
    (
        "period_seconds",
        "initial_delay_seconds",
        "timeout_seconds",
        "success_threshold",
        "failure_threshold",
    )
)
_MUST_BE_POSITIVE_AFTER_NAMESPACE = _greater_than_zero(
    (
        "scoring_timeout_ms",
        "replica_max_concurrent_requests",
        "max_request_wait_time",
        "num_replicas",
    )
)
_AUTOSCALE_SETTINGS = (
    "autoscale_min_replicas",
    "autoscale_max_replicas",
    "autoscale_refresh_seconds",
    "autoscale_target_utilization",
)


class AksServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    """How to deploy a service "on Azure Kubernetes Service" (v1's name).

    Create one with ``AksWebservice.deploy_configuration(...)``; the constructor takes every
    argument positionally, as v1's does. None means "not set".

    Args:
        autoscale_enabled: Autoscaling; v1 turns it on when num_replicas is None.
        autoscale_min_replicas: Fewest replicas when autoscaling (needs autoscale_enabled).
        autoscale_max_replicas: Most replicas when autoscaling (needs autoscale_enabled).
        autoscale_refresh_seconds: How often the autoscaler acts (recorded).
        autoscale_target_utilization: Target utilization in percent (recorded).
        collect_model_data: Model data collection (recorded).
        auth_enabled: Key auth; defaults to True unless token_auth_enabled is True.
        cpu_cores: CPU cores requested per replica; must be above zero.
        memory_gb: Memory in GB requested per replica; must be above zero.
        enable_app_insights: Application Insights (recorded).
        scoring_timeout_ms: Timeout of a scoring call; v1's default is 60000.
        replica_max_concurrent_requests: Concurrent requests per replica (recorded).
        max_request_wait_time: Longest queue wait in ms before a 503 (recorded).
        num_replicas: A fixed number of replicas; excludes autoscaling.
        primary_key: The primary auth key; generated when not given.
        secondary_key: The secondary auth key; generated when not given.
        tags: Key-value tags.
        properties: Key-value properties; they cannot change after deployment.
        description: A description.
        gpu_cores: GPU cores per replica, zero or more (recorded).
        period_seconds: Liveness probe period (recorded).
        initial_delay_seconds: Liveness probe initial delay (recorded).
        timeout_seconds: Liveness probe timeout (recorded).
        success_threshold: Liveness probe success threshold (recorded).
        failure_threshold: Liveness probe failure threshold (recorded).
        namespace: Kubernetes namespace, a lowercase DNS label (recorded).
        token_auth_enabled: Token auth; cannot be True together with auth_enabled.
        compute_target_name: The AKS compute target's name (recorded).
        cpu_cores_limit: Most CPU cores a replica may use; at least cpu_cores (recorded).
        memory_gb_limit: Most memory a replica may use; at least memory_gb (recorded).
        blobfuse_enabled: Blobfuse model download (recorded).

    Raises:
        WebserviceException: One or more values are invalid; the message lists every
            problem, one per line, in v1's words.
    """

    _compute_type = "AKS"
    _recorded_settings = (
        "autoscale_enabled",
        *_AUTOSCALE_SETTINGS,
        "num_replicas",
        "collect_model_data",
        "cpu_cores_limit",
        "memory_gb_limit",
        "gpu_cores",
        "enable_app_insights",
        "replica_max_concurrent_requests",
        "max_request_wait_time",
        "period_seconds",
        "initial_delay_seconds",
        "timeout_seconds",
        "success_threshold",
        "failure_threshold",
        "namespace",
        "compute_target_name",
        "blobfuse_enabled",
    )

    def __init__(
        self,
        autoscale_enabled: bool | None,
        autoscale_min_replicas: int | None,
        autoscale_max_replicas: int | None,
        autoscale_refresh_seconds: int | None,
        autoscale_target_utilization: int | None,
        collect_model_data: bool | None,
        auth_enabled: bool | None,
        cpu_cores: float | None,
        memory_gb: float | None,
        enable_app_insights: bool | None,
        scoring_timeout_ms: int | None,
        replica_max_concurrent_requests: int | None,
        max_request_wait_time: int | None,
        num_replicas: int | None,
        primary_key: str | None,
        secondary_key: str | None,
        tags: dict[str, str] | None,
        properties: dict[str, str] | None,
        description: str | None,
        gpu_cores: int | None,
        period_seconds: int | None,
        initial_delay_seconds: int | None,
        timeout_seconds: int | None,
        success_threshold: int | None,
        failure_threshold: int | None,
        namespace: str | None,
        token_auth_enabled: bool | None,
        compute_target_name: str | None,
        cpu_cores_limit: float | None,
        memory_gb_limit: float | None,
        blobfuse_enabled: bool | None = None,
    ) -> None:
        super().__init__(
            self._compute_type, description, tags, properties, primary_key, secondary_key
        )
        self.autoscale_enabled = autoscale_enabled
        self.autoscale_min_replicas = autoscale_min_replicas
        self.autoscale_max_replicas = autoscale_max_replicas
        self.autoscale_refresh_seconds = autoscale_refresh_seconds
        self.autoscale_target_utilization = autoscale_target_utilization
        self.collect_model_data = collect_model_data
        self.auth_enabled = auth_enabled
        self.cpu_cores = cpu_cores
        self.cpu_cores_limit = cpu_cores_limit
        self.memory_gb = memory_gb
        self.memory_gb_limit = memory_gb_limit
        self.gpu_cores = gpu_cores
        self.enable_app_insights = enable_app_insights
        self.scoring_timeout_ms = scoring_timeout_ms
        self.replica_max_concurrent_requests = replica_max_concurrent_requests
        self.max_request_wait_time = max_request_wait_time
        self.num_replicas = num_replicas
        self.period_seconds = period_seconds
        self.initial_delay_seconds = initial_delay_seconds
        self.timeout_seconds = timeout_seconds
        self.success_threshold = success_threshold
        self.failure_threshold = failure_threshold
        self.namespace = namespace
        self.token_auth_enabled = token_auth_enabled
        self.blobfuse_enabled = blobfuse_enabled
        self.compute_target_name = compute_target_name
        self.validate_configuration()

    def validate_configuration(self) -> None:
        """Checks the values as v1 does, collecting every problem before raising.

        Raises:
            WebserviceException: The problems, one "Invalid configuration, ..." per line.
        """
        errors = self._numeric_errors()
        if errors:
            # v1 would stop at a TypeError here; the comparisons below need numbers.
            raise WebserviceException("".join(f"{line}\n" for line in errors))
        error = ""
        if self.cpu_cores is not None and self.cpu_cores <= 0:
            error += "Invalid configuration, cpu_cores must be greater than zero.\n"
        if (
            self.cpu_cores is not None
            and self.cpu_cores_limit is not None
            and self.cpu_cores_limit < self.cpu_cores
        ):
            error += (
                "Invalid configuration, cpu_cores_limit must be greater than or equal to "
                "cpu_cores.\n"
            )
        if self.memory_gb is not None and self.memory_gb <= 0:
            error += "Invalid configuration, memory_gb must be greater than zero.\n"
        if (
            self.memory_gb is not None
            and self.memory_gb_limit is not None
            and self.memory_gb_limit < self.memory_gb
        ):
            error += (
                "Invalid configuration, memory_gb_limit must be greater than or equal to "
                "memory_gb.\n"
            )
        if self.gpu_cores is not None and self.gpu_cores < 0:
            error += "Invalid configuration, gpu_cores must be greater than or equal to zero.\n"
        error += self._positive_errors(_MUST_BE_POSITIVE)
        if self.namespace and not re.match(NAMESPACE_REGEX, self.namespace):
            error += (
                "Invalid configuration, namespace must be a valid Kubernetes namespace. "
                "Regex for validation is " + NAMESPACE_REGEX + "\n"
            )
        error += self._positive_errors(_MUST_BE_POSITIVE_AFTER_NAMESPACE)
        error += self._autoscale_errors()
        if self.token_auth_enabled and self.auth_enabled:
            error += (
                "Invalid configuration, auth_enabled and token_auth_enabled cannot both be true.\n"
            )
        if error:
            raise WebserviceException(error)

    def _numeric_errors(self) -> list[str]:
        names = ["cpu_cores", "cpu_cores_limit", "memory_gb", "memory_gb_limit", "gpu_cores"]
        names += [name for name, _ in _MUST_BE_POSITIVE + _MUST_BE_POSITIVE_AFTER_NAMESPACE]
        names += _AUTOSCALE_SETTINGS
        return [
            _not_a_number(name, getattr(self, name))
            for name in names
            if getattr(self, name) is not None and not _is_number(getattr(self, name))
        ]

    def _positive_errors(self, checks: tuple[tuple[str, str], ...]) -> str:
        return "".join(
            f"Invalid configuration, {message}.\n"
            for name, message in checks
            if getattr(self, name) is not None and getattr(self, name) <= 0
        )

    def _autoscale_errors(self) -> str:
        error = ""
        if self.autoscale_enabled:
            if self.num_replicas:
                error += "Invalid configuration, autoscale enabled and num_replicas provided.\n"
            replicas, tuning = _AUTOSCALE_SETTINGS[:2], _AUTOSCALE_SETTINGS[2:]
            error += self._positive_errors(_greater_than_zero(replicas))
            if (
                self.autoscale_min_replicas
                and self.autoscale_max_replicas
                and self.autoscale_min_replicas > self.autoscale_max_replicas
            ):
                error += (
                    "Invalid configuration, autoscale_min_replicas cannot be greater than "
                    "autoscale_max_replicas.\n"
                )
            return error + self._positive_errors(_greater_than_zero(tuning))
        if self.autoscale_enabled is False and not self.num_replicas:
            error += "Invalid configuration, autoscale disabled but num_replicas not provided.\n"
        for name in _AUTOSCALE_SETTINGS:
            if getattr(self, name):
                error += f"Invalid configuration, {name} provided without enabling autoscaling.\n"
        return error

    def print_deploy_configuration(self) -> None:
        """Prints the CPU, GPU, memory and replica requirements that are set, as v1 does."""
        deploy_config = []
        if self.cpu_cores:
            deploy_config.append(f"CPU requirement: {self.cpu_cores}")
        if self.gpu_cores:
            deploy_config.append(f"GPU requirement: {self.gpu_cores}")
        if self.memory_gb:
            deploy_config.append(f"Memory requirement: {self.memory_gb}GB")
        if self.num_replicas:
            deploy_config.append(f"Number of replica: {self.num_replicas}")
        if deploy_config:
            print(", ".join(deploy_config))

    @property
    def workers(self) -> int:
        """Scoring worker processes Runyard starts for the service.

        ``num_replicas`` when given; else ``autoscale_min_replicas`` when autoscaling is
        enabled and it is given; else 1. At most ``MAX_WORKERS`` (8): more is capped without
        an error, since every replica runs on this one machine. Runyard does not autoscale.
        """
        if self.num_replicas:
            wanted = self.num_replicas
        elif self.autoscale_enabled and self.autoscale_min_replicas:
            wanted = self.autoscale_min_replicas
        else:
            wanted = 1
        return max(1, min(MAX_WORKERS, int(wanted)))

    @property
    def _effective_auth_enabled(self) -> bool:
        """v1's AKS default is key auth on; with token auth asked for, key auth is off."""
        if self.auth_enabled is not None:
            return bool(self.auth_enabled)
        return not self.token_auth_enabled

    def _to_runyard(self) -> dict[str, Any]:
        """The serving layer's dict; workers as in ``workers``, no fixed port."""
        self.validate_configuration()
        return self._runyard_dict(
            cpu_cores=self.cpu_cores,
            memory_gb=self.memory_gb,
            auth_enabled=self._effective_auth_enabled,
            token_auth_enabled=bool(self.token_auth_enabled),
            port=None,
            workers=self.workers,
            scoring_timeout_ms=self.scoring_timeout_ms,
        )


def aks_deploy_configuration(
    autoscale_enabled: bool | None = None,
    autoscale_min_replicas: int | None = None,
    autoscale_max_replicas: int | None = None,
    autoscale_refresh_seconds: int | None = None,
    autoscale_target_utilization: int | None = None,
    collect_model_data: bool | None = None,
    auth_enabled: bool | None = None,
    cpu_cores: float | None = None,
    memory_gb: float | None = None,
    enable_app_insights: bool | None = None,
    scoring_timeout_ms: int | None = None,
    replica_max_concurrent_requests: int | None = None,
    max_request_wait_time: int | None = None,
    num_replicas: int | None = None,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
    gpu_cores: int | None = None,
    period_seconds: int | None = None,
    initial_delay_seconds: int | None = None,
    timeout_seconds: int | None = None,
    success_threshold: int | None = None,
    failure_threshold: int | None = None,
    namespace: str | None = None,
    token_auth_enabled: bool | None = None,
    compute_target_name: str | None = None,
    cpu_cores_limit: float | None = None,
    memory_gb_limit: float | None = None,
    blobfuse_enabled: bool | None = None,
) -> AksServiceDeploymentConfiguration:
    """``AksWebservice.deploy_configuration``: a configuration for deploying an AKS service.

    The arguments are AksServiceDeploymentConfiguration's; None means "not set".

    Returns:
        The AksServiceDeploymentConfiguration.

    Raises:
        WebserviceException: One or more values are invalid.
    """
    return AksServiceDeploymentConfiguration(
        autoscale_enabled,
        autoscale_min_replicas,
        autoscale_max_replicas,
        autoscale_refresh_seconds,
        autoscale_target_utilization,
        collect_model_data,
        auth_enabled,
        cpu_cores,
        memory_gb,
        enable_app_insights,
        scoring_timeout_ms,
        replica_max_concurrent_requests,
        max_request_wait_time,
        num_replicas,
        primary_key,
        secondary_key,
        tags,
        properties,
        description,
        gpu_cores,
        period_seconds,
        initial_delay_seconds,
        timeout_seconds,
        success_threshold,
        failure_threshold,
        namespace,
        token_auth_enabled,
        compute_target_name,
        cpu_cores_limit,
        memory_gb_limit,
        blobfuse_enabled,
    )
