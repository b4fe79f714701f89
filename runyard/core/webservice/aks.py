"""AksWebservice (v1's ``azureml.core.webservice.aks``): on Runyard a managed local service
whose replica settings choose its number of scoring processes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runyard.core.webservice.aks_config import (
    AksServiceDeploymentConfiguration,
    aks_deploy_configuration,
)
from runyard.core.webservice.webservice import Webservice

__all__ = ["AksServiceDeploymentConfiguration", "AksWebservice"]

MAX_WORKERS = 8


class AksWebservice(Webservice):
    _webservice_type = "AKS"
    deploy_configuration = staticmethod(aks_deploy_configuration)

    def _update_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """num_replicas (or autoscale_min_replicas with autoscale on) sets the number of
        scoring processes; cpu_cores, memory_gb and scoring_timeout_ms apply to them; the
        rest is recorded. Changing these starts a new version."""
        given = {k: v for k, v in settings.items() if v is not None}
        out: dict[str, Any] = {}
        replicas = given.pop("num_replicas", None)
        low = given.pop("autoscale_min_replicas", None)
        if replicas is None and given.get("autoscale_enabled") and low is not None:
            replicas = low
        if replicas is not None:
            out["workers"] = max(1, min(MAX_WORKERS, int(replicas)))
        for key in ("cpu_cores", "memory_gb", "scoring_timeout_ms"):
            if key in given:
                out[key] = given.pop(key)
        out.update(super()._update_settings(given))
        return out
