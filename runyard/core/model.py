"""Model: versioned files in the workspace's registry (v1's ``azureml.core.Model``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._reexports import lazy_exports
from runyard._services import registry
from runyard.exceptions import (
    InvalidModelRequest,
    ModelNotFoundException,
    RunEnvironmentException,
    WebserviceException,
)
from runyard.exceptions import UserErrorException as UserErrorException  # v1 import path

if TYPE_CHECKING:
    from runyard._entities import ModelVersion
    from runyard.core.workspace import Workspace


class Model:
    """One registered model version.

    Args:
        workspace: The workspace holding the registry.
        name: The model's name; the latest version unless ``version`` is given.
        id: ``'<name>:<version>'`` instead of name and version.
        version: An int version.
        tags, properties, run_id: When given, the version must match them.

    Raises:
        ModelNotFoundException: No such model or version (its text has "ModelNotFound").
    """

    class Framework:
        SCIKITLEARN = "ScikitLearn"
        ONNX = "Onnx"
        TENSORFLOW = "TensorFlow"
        PYTORCH = "PyTorch"
        KERAS = "Keras"
        CHAINER = "Chainer"
        CUSTOM = "Custom"
        MULTI = "Multi"

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        version: int | None = None,
        run_id: str | None = None,
        model_framework: str | None = None,
        expand: bool = True,
        **kwargs: Any,
    ) -> None:
        if id is not None:
            name, _, ver = id.partition(":")
            version = _int_version(ver) if ver else version
        if not name:
            raise InvalidModelRequest(
                "Model() needs a name or an id: Model(ws, name='my-model') or "
                "Model(ws, id='my-model:3')."
            )
        version = None if version is None else _int_version(version)
        if tags is None and properties is None and run_id is None:
            mv = registry.get_model(workspace._services, name, version)
        else:
            found = registry.list_models(
                workspace._services, name=name, tags=tags, properties=properties, run_id=run_id
            )
            found = [m for m in found if version is None or m.version == version]
            if not found:
                raise ModelNotFoundException(
                    f"ModelNotFound: no version of model {name!r} matches version={version}, "
                    f"tags={tags}, properties={properties}, run_id={run_id}. List versions "
                    f"with Model.list(ws, name={name!r})."
                )
            mv = found[0]
        self._init(workspace, mv)

    def _init(self, workspace: Workspace, mv: ModelVersion) -> None:
        self.workspace = workspace
        self._mv = mv
        self.name = mv.name
        self.version = mv.version
        self.id = mv.id
        self.tags = dict(mv.tags)
        self.properties = dict(mv.properties)
        self.description = mv.description
        self.created_time = mv.created_time
        self.run_id = mv.run_id
        self.experiment_name = mv.experiment_name
        self.model_framework = mv.model_framework
        self.model_framework_version = mv.model_framework_version
        self.url = f"aml://asset/{mv.id}"
        self.datasets: dict[str, Any] = {}

    @classmethod
    def _from_version(cls, workspace: Workspace, mv: ModelVersion) -> Model:
        model = cls.__new__(cls)
        model._init(workspace, mv)
        return model

    # ---- registering and listing ---------------------------------------------------------
    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        datasets: Any = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        child_paths: list[str] | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
    ) -> Model:
        """Registers a local file or folder as the next version of ``model_name``.

        Returns:
            The new Model (version 1, 2, ... per name, atomic across processes).

        Raises:
            WebserviceException: Bad model name.
            InvalidModelRequest: model_path does not exist (a WebserviceException and a
                UserErrorException).
        """
        mv = registry.register_local(
            workspace._services,
            model_path=model_path,
            model_name=model_name,
            tags=tags,
            properties=properties,
            description=description,
            model_framework=model_framework,
            model_framework_version=model_framework_version,
            child_paths=child_paths,
        )
        return Model._from_version(workspace, mv)

    @staticmethod
    def list(
        workspace: Workspace,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        run_id: str | None = None,
        latest: bool = False,
        dataset_id: str | None = None,
        expand: bool = True,
        page_count: int = 255,
        model_framework: str | None = None,
    ) -> list[Model]:
        """Registered versions, by name then newest version first.

        Args:
            tags, properties: Lists of keys ``'k'`` or pairs ``['k', 'v']``.
            latest: Only each name's latest version.
        """
        found = registry.list_models(
            workspace._services,
            name=name,
            tags=tags,
            properties=properties,
            run_id=run_id,
            latest=latest,
        )
        if model_framework is not None:
            found = [m for m in found if m.model_framework == model_framework]
        return [Model._from_version(workspace, m) for m in found]

    # ---- files ---------------------------------------------------------------------------
    def download(
        self,
        target_dir: str | os.PathLike[str] = ".",
        exist_ok: bool = False,
        exists_ok: Any = None,
    ) -> str:
        """Downloads the version's files; returns the local path of the model.

        Raises:
            InvalidModelRequest: Files already exist there and exist_ok is False (a
                WebserviceException, as in v1, and a UserErrorException).
        """
        if exists_ok is not None:  # v1's deprecated spelling
            exist_ok = bool(exists_ok)
        path = registry.download_model(self.workspace._services, self._mv, target_dir, exist_ok)
        return str(path)

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: Workspace | None = None
    ) -> str:
        """Local path of a model, for scoring and training scripts.

        Looks in AZUREML_MODEL_DIR, then ``azureml-models/<name>/<version>/``, then
        ``./<model_name>``; inside a submitted run, downloads the version first.

        Raises:
            WebserviceException: version is not an int.
            ModelNotFoundException: The model is found nowhere.
        """
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise WebserviceException(
                f"Model.get_model_path({model_name!r}, version={version!r}): version must be "
                "an int such as 3, or None for the latest."
            )
        workspace = _workspace if _workspace is not None else _job_workspace()
        if workspace is not None and os.environ.get("AZUREML_MODEL_DIR") is None:
            return _download_for_run(workspace, model_name, version)
        return _local_model_path(model_name, version, workspace)

    # ---- deploying ----------------------------------------------------------------------
    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: Sequence[Model],
        inference_config: Any = None,
        deployment_config: Any = None,
        deployment_target: Any = None,
        overwrite: bool = False,
        show_output: bool = False,
    ) -> Any:
        """Deploys ``models`` as web service ``name`` (an ACI service unless
        ``deployment_config`` says otherwise); returns the Webservice, Transitioning: wait
        for it with ``service.wait_for_deployment(show_output=True)``.

        Raises:
            WebserviceException: a bad name (3-32 lowercase letters, digits and '-', starting
                with a letter), an existing one without overwrite=True, a model or the entry
                script missing, an invalid configuration.
        """
        # late: web services load only when a model is deployed
        from runyard.core.webservice.webservice import deploy

        service = deploy(
            workspace,
            name,
            models,
            inference_config,
            deployment_config,
            deployment_target=deployment_target,
            overwrite=overwrite,
        )
        if show_output:
            print(f"Deploying service {name} ({service.compute_type}); Running")
        return service

    # ---- metadata ------------------------------------------------------------------------
    def update(
        self,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
    ) -> None:
        """Replaces the description and adds/overwrites the given tags."""
        self._update(description=description, add_tags=tags)

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        self._update(add_tags=tags)

    def remove_tags(self, tags: Any) -> None:
        self._update(remove_tags=[tags] if isinstance(tags, str) else list(tags))

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        self._update(add_properties=properties)

    def update_tags_properties(
        self, add_tags: Any = None, remove_tags: Any = None, add_properties: Any = None
    ) -> None:
        self._update(add_tags=add_tags, remove_tags=remove_tags, add_properties=add_properties)

    def _update(
        self,
        *,
        description: str | None = None,
        add_tags: Any = None,
        remove_tags: Any = None,
        add_properties: Any = None,
    ) -> None:
        mv = registry.update_model(
            self.workspace._services,
            self._mv,
            description=description,
            add_tags=add_tags,
            remove_tags=remove_tags,
            add_properties=add_properties,
        )
        self._init(self.workspace, mv)

    def delete(self) -> None:
        """Deletes this version and its files."""
        registry.delete_model(self.workspace._services, self._mv)

    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "createdTime": self.created_time.isoformat() if self.created_time else None,
            "runId": self.run_id,
            "experimentName": self.experiment_name,
            "url": self.url,
            "modelFramework": self.model_framework,
            "modelFrameworkVersion": self.model_framework_version,
            "path": self._mv.model_path,
        }

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, id={self.id!r}, version={self.version})"


# ---- get_model_path ------------------------------------------------------------------------


def _job_workspace() -> Workspace | None:
    """The submitted run's workspace, or None outside a job (v1 tries get_context too)."""
    try:
        # late: cycle Model -> run_context -> Run -> Model; run's files import model
        from runyard.core.run_context import get_context
    except ImportError:
        return None
    try:
        run = get_context(allow_offline=False)
    except RunEnvironmentException:
        return None
    return run.experiment.workspace


def _single_entry(folder: Path) -> Path | None:
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    if not entries:
        return None
    if len(entries) > 1:
        raise ModelNotFoundException(
            f"ModelNotFound: {folder} holds {len(entries)} entries "
            f"({[e.name for e in entries[:10]]}); it must hold exactly one model file or folder."
        )
    return entries[0]


def _version_dir(base: Path, version: int | None) -> Path | None:
    if version is not None:
        return base / str(version)
    versions = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return base / str(max(versions)) if versions else None


def _local_model_path(name: str, version: int | None, workspace: Workspace | None) -> str:
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if model_dir:
        root = Path(model_dir)
        vdir = _version_dir(root / name, version)
        entry = _single_entry(vdir) if vdir is not None and vdir.is_dir() else None
        if entry is not None:
            return str(entry)
        # A single-model deployment: the folder itself holds the registered file or folder.
        if workspace is not None:
            basename = Model(workspace, name, version=version)._mv.model_path
            if (root / basename).exists():
                return str(root / basename)
        else:
            entry = _single_entry(root)
            if entry is not None:
                return str(entry)
    models_dir = Path(os.environ.get("AML_APP_ROOT") or ".") / "azureml-models"
    if not os.environ.get("AML_APP_ROOT"):
        models_dir = Path("azureml-models")
    vdir = _version_dir(models_dir / name, version)
    entry = _single_entry(vdir) if vdir is not None and vdir.is_dir() else None
    if entry is not None:
        return str(entry)
    if Path(name).exists():
        return name
    raise ModelNotFoundException(
        f"ModelNotFound: model {name!r} (version {version or 'latest'}) was not found in "
        f"AZUREML_MODEL_DIR={model_dir!r}, in {models_dir}/{name}/ or as ./{name}. Download it "
        f"with Model(ws, {name!r}).download() or set AZUREML_MODEL_DIR."
    )


def _download_for_run(workspace: Workspace, name: str, version: int | None) -> str:
    base = Path("azureml-models") / name
    if version is not None:
        entry = _single_entry(base / str(version)) if (base / str(version)).is_dir() else None
        if entry is not None:
            return str(entry)
    model = Model(workspace, name, version=version)
    return str(Path(model.download(base / str(model.version), exist_ok=True)))


def _int_version(value: Any) -> int:
    if isinstance(value, bool):
        value = "bool"
    try:
        return int(value)
    except (TypeError, ValueError):
        raise WebserviceException(
            f"Model version {value!r} is not valid: versions are whole numbers (1, 2, ...)."
        ) from None


# v1 import paths (azureml.core.model.Dataset ...), loaded on first use: light, no cycle.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Dataset": "runyard.core.dataset",
        "Environment": "runyard.core.environment",
        "Experiment": "runyard.core.experiment",
        "FileDataset": "runyard.data",
        "InferenceConfig": "runyard.core.inference_config",
        "TabularDataset": "runyard.data",
    },
)
