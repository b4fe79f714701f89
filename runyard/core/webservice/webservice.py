"""Webservice: a deployed model's scoring service (v1's ``azureml.core.webservice.Webservice``).

``Webservice(ws, name)`` returns the subclass of the service's compute type (AciWebservice,
AksWebservice, LocalWebservice), as v1 does. On Runyard every type is a managed local
service that the workspace agent runs and supervises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from runyard.exceptions import WebserviceException

if TYPE_CHECKING:
    from types import ModuleType

    from runyard._services.serving import ServiceView
    from runyard.core.inference_config import InferenceConfig
    from runyard.core.model import Model
    from runyard.core.workspace import Workspace

_TYPES: dict[str, type[Webservice]] = {}


def _serving() -> ModuleType:
    # late: job side; importing this module (azureml.core.webservice) must stay light in a
    # job's or a scoring service's environment: the services load on first use
    from runyard._services import serving

    return serving


class Webservice:
    """A deployed service. Attributes are read when it is fetched (``update_deployment_state``
    reads them again); ``state`` is always read afresh."""

    _webservice_type: ClassVar[str] = "Webservice"  # the compute type of a subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _TYPES[cls._webservice_type] = cls

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> Webservice:
        if workspace is not None and name is not None and cls is Webservice:
            info = workspace._services.store.get_service(name)
            cls = _TYPES.get(info.compute_type, Webservice)
        return super().__new__(cls)

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name
        self._refresh(_serving().view(workspace._services, name))

    @classmethod
    def _from_view(cls, workspace: Workspace, view: ServiceView) -> Webservice:
        kind = _TYPES.get(view.info.compute_type, Webservice)
        service = object.__new__(kind)
        service.workspace, service.name = workspace, view.info.name
        service._refresh(view)
        return service

    def _refresh(self, view: ServiceView) -> None:
        info = view.info
        deployment = dict(info.spec.get("deployment") or {})
        self._view = view
        self.compute_type = info.compute_type
        self.scoring_uri = view.scoring_uri
        self.swagger_uri = view.swagger_uri
        self.auth_enabled = bool(deployment.get("auth_enabled"))
        self.token_auth_enabled = bool(deployment.get("token_auth_enabled"))
        self.tags = dict(deployment.get("tags") or {})
        self.properties = dict(deployment.get("properties") or {})
        self.description = deployment.get("description")
        self.created_time = info.created_time
        self.updated_time = info.modified_time
        self.image_id = None  # no images on Runyard: the model's environment serves
        self.error = {"message": view.error} if view.error else None
        self.created_by = None
        self.models = [m["id"] for m in info.spec.get("models") or []]
        self.port = view.port
        self.cpu_cores = deployment.get("cpu_cores")
        self.memory_gb = deployment.get("memory_gb")

    # ---- state ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Transitioning, Healthy, Unhealthy or Failed, as the service reports it now."""
        self._refresh(_serving().view(self.workspace._services, self.name))
        return self._view.state

    def update_deployment_state(self) -> None:
        """Reads the service's attributes again."""
        self._refresh(_serving().view(self.workspace._services, self.name))

    def wait_for_deployment(
        self, show_output: bool = False, timeout_sec: float | None = None
    ) -> None:
        """Waits until the latest version serves.

        Raises:
            WebserviceException: it ended Failed (the text names get_logs()), or timed out.
        """
        show = print if show_output else None
        if show is not None:
            print(
                "Tips: You can try get_logs() to debug if deployment takes longer than 10 "
                "minutes.\nRunning"
            )
        try:
            view = _serving().wait_for_deployment(
                self.workspace._services, self.name, timeout_sec=timeout_sec, show=show
            )
        except WebserviceException:
            if show is not None:
                print(
                    f'Failed\nService {self.name} creation operation finished, operation "Failed"'
                )
            raise
        self._refresh(view)
        if show is not None:
            print(
                f"{view.state}\n{_KIND_LABELS.get(self.compute_type, self.compute_type)} service "
                'creation operation finished, operation "Succeeded"'
            )

    # ---- keys and logs ----------------------------------------------------------------------
    def get_keys(self) -> tuple[str, str]:
        """(primary, secondary). Raises WebserviceException when auth is off."""
        return _serving().get_keys(self.workspace._services, self.name)

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Replaces the 'Primary' or 'Secondary' key; the old one stops working at once."""
        _serving().regen_key(self.workspace._services, self.name, key, set_key)

    def get_token(self) -> Any:
        raise WebserviceException(
            f"Service {self.name} does not use token authentication (only AKS services with "
            "token_auth_enabled=True do in v1, and Runyard serves keys): use get_keys()."
        )

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The service's log: environment build, init() and every 500's traceback."""
        return _serving().logs(self.workspace._services, self.name, num_lines=num_lines, init=init)

    # ---- calling it --------------------------------------------------------------------------
    def run(self, input_data: Any) -> Any:
        """POSTs ``input_data`` to the scoring URI (the primary key sent when auth is on);
        returns the decoded JSON.

        Raises:
            WebserviceException: the service answered other than 200 (its body quoted).
        """
        # late: httpx only where a service is called
        import httpx

        if self.scoring_uri is None:
            self.update_deployment_state()
        if self.scoring_uri is None:
            raise WebserviceException(
                f"Service {self.name} has no scoring URI yet (state {self.state}); call "
                "service.wait_for_deployment() first."
            )
        body = input_data if isinstance(input_data, (str, bytes)) else json.dumps(input_data)
        headers = {"Content-Type": "application/json"}
        if self.auth_enabled:
            headers["Authorization"] = "Bearer " + self.get_keys()[0]
        try:
            resp = httpx.post(self.scoring_uri, content=body, headers=headers, timeout=90.0)
        except httpx.HTTPError as exc:
            raise WebserviceException(
                f"Could not reach service {self.name} at {self.scoring_uri}: {exc}. Check its "
                "state (service.state) and service.get_logs()."
            ) from exc
        if resp.status_code != 200:
            raise WebserviceException(
                "Received bad response from service. More information can be found by calling "
                f"`.get_logs()` on the webservice object.\nResponse Code: {resp.status_code}\n"
                f"Headers: {dict(resp.headers)}\nContent: {resp.text}"
            )
        try:
            return resp.json()
        except ValueError:
            return resp.content

    # ---- changing it -------------------------------------------------------------------------
    def update(
        self,
        *args: Any,
        models: Sequence[Model] | None = None,
        inference_config: InferenceConfig | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        description: str | None = None,
        auth_enabled: bool | None = None,
        **settings: Any,
    ) -> None:
        """Changes the service. Tags, properties, description and auth take effect at once;
        new ``models`` or ``inference_config`` become a new version, swapped in without a
        dropped request (wait for it with wait_for_deployment()). Other v1 settings
        (ssl_*, enable_app_insights, autoscale_*, ...) are recorded."""
        if args:
            raise WebserviceException(
                "Webservice.update takes keyword arguments only (e.g. update(models=[model]))."
            )
        if not any(
            v is not None
            for v in (models, inference_config, tags, properties, description, auth_enabled)
        ) and not any(v is not None for v in settings.values()):
            raise WebserviceException(
                "No parameters provided to update: pass e.g. models=[...], "
                "inference_config=..., tags={...} or auth_enabled=True."
            )
        deployment: dict[str, Any] = {
            "tags": None if tags is None else dict(tags),
            "properties": None if properties is None else {**self.properties, **properties},
            "description": description,
            "auth_enabled": auth_enabled,
        }
        deployment.update(self._update_settings(settings))
        inference = None
        if inference_config is not None:
            inference = inference_config._to_runyard(service_name=self.name)
        _serving().update(
            self.workspace._services,
            self.name,
            models=None if models is None else [_model_ref(m) for m in models],
            inference=inference,
            deployment={k: v for k, v in deployment.items() if v is not None},
        )
        self.update_deployment_state()

    def _update_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Subclasses map their own update() settings; the rest are recorded."""
        recorded = {k: v for k, v in settings.items() if v is not None}
        return {"recorded": recorded} if recorded else {}

    def reload(self) -> None:
        """Reads the service again (LocalWebservice.reload restarts its scoring code; on
        Runyard a new version comes from update(inference_config=...))."""
        self.update_deployment_state()

    def delete(self) -> None:
        """Stops the service, frees its port and removes it from ws.webservices."""
        _serving().delete(self.workspace._services, self.name)

    # ---- listing and serializing ----------------------------------------------------------
    @staticmethod
    def list(
        workspace: Workspace,
        compute_type: str | None = None,
        image_name: str | None = None,
        image_id: str | None = None,
        model_name: str | None = None,
        model_id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        image_digest: str | None = None,
    ) -> list[Webservice]:
        """Services of the workspace, filtered as v1 filters them."""
        found = []
        for view in _serving().list_views(workspace._services):
            service = Webservice._from_view(workspace, view)
            if compute_type is not None and service.compute_type.lower() != compute_type.lower():
                continue
            names = [m.partition(":")[0] for m in service.models]
            if model_name is not None and model_name not in names:
                continue
            if model_id is not None and model_id not in service.models:
                continue
            if not _matches(service.tags, tags) or not _matches(service.properties, properties):
                continue
            found.append(service)
        return found

    def serialize(self) -> dict[str, Any]:
        info = self._view.info
        deployment = dict(info.spec.get("deployment") or {})
        return {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "properties": self.properties,
            "state": self._view.state,
            "createdTime": self.created_time.isoformat(),
            "updatedTime": self.updated_time.isoformat(),
            "error": self.error,
            "computeType": self.compute_type,
            "workspaceName": self.workspace.name,
            "imageId": None,
            "scoringUri": self.scoring_uri,
            "swaggerUri": self.swagger_uri,
            "authEnabled": self.auth_enabled,
            "models": self.models,
            "version": info.generation,
            "deploymentConfiguration": {
                k: v for k, v in deployment.items() if k not in ("primary_key", "secondary_key")
            },
            "inferenceConfiguration": {
                k: v for k, v in (info.spec.get("inference") or {}).items() if k != "environment"
            },
            "environmentName": ((info.spec.get("inference") or {}).get("environment") or {}).get(
                "name"
            ),
            "restarts": self._view.restarts,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(workspace={self.workspace.name}, name={self.name}, "
            f"image_id=None, compute_type={self.compute_type}, state={self._view.state}, "
            f"scoring_uri={self.scoring_uri}, tags={self.tags}, properties={self.properties})"
        )


_KIND_LABELS = {"ACI": "ACI", "AKS": "AKS", "Local": "Local"}


def _matches(values: Mapping[str, str], wanted: Any) -> bool:
    """v1's tags/properties filter: a list of 'key' or ['key', 'value']."""
    for item in wanted or []:
        if isinstance(item, str):
            if item not in values:
                return False
        else:
            key, value = item[0], item[1]
            if values.get(key) != value:
                return False
    return True


def _model_ref(model: Any) -> dict[str, Any]:
    name, version = getattr(model, "name", None), getattr(model, "version", None)
    if not name:
        raise WebserviceException(
            f"models must be registered Model objects (Model(ws, name)); got {model!r}."
        )
    return {"name": name, "version": version}


def deploy(
    workspace: Workspace,
    name: str,
    models: Sequence[Model],
    inference_config: InferenceConfig | None,
    deployment_config: Any,
    deployment_target: Any = None,
    overwrite: bool = False,
) -> Webservice:
    """Model.deploy's body: checks, records the service, returns it Transitioning."""
    # late: the configuration classes import the Environment; only a deploy needs them
    from runyard.core.webservice.aci_config import aci_deploy_configuration
    from runyard.core.webservice.deploy_config import check_service_name

    check_service_name(name)
    if inference_config is None:
        raise WebserviceException(
            "Model.deploy on Runyard needs inference_config=InferenceConfig(entry_script=..., "
            "environment=...): there is no no-code deployment (v1's for registered "
            "framework models)."
        )
    config = deployment_config if deployment_config is not None else aci_deploy_configuration()
    config.validate_configuration()
    deployment = config._to_runyard()
    if deployment_target is not None:
        deployment.setdefault("recorded", {})["deployment_target"] = getattr(
            deployment_target, "name", str(deployment_target)
        )
    _serving().deploy(
        workspace._services,
        name,
        models=[_model_ref(m) for m in models],
        inference=inference_config._to_runyard(service_name=name),
        deployment=deployment,
        overwrite=overwrite,
    )
    return Webservice(workspace, name)
