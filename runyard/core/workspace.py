"""Workspace: v1's entry point, backed by an embedded workspace under RUNYARD_HOME."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runyard._config import Settings, WorkspaceLayout
from runyard._reexports import lazy_exports
from runyard._services import open_services
from runyard._services import workspaces as _ws
from runyard.core.experiment import Experiment
from runyard.core.run import Run
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services
    from runyard.core.datastore import Datastore
    from runyard.core.environment import Environment
    from runyard.core.keyvault import Keyvault
    from runyard.core.model import Model

# Job side: a job's Run.get_context() builds a Workspace, so this module is on every job's
# start-up path. The collections below import their modules on first use, which keeps
# compute backends, environments and datasets out of a job's start (tests/core/
# test_imports.py holds the job side to what logging needs).


class Workspace:
    """A Runyard workspace: one metadata store plus one artifact folder.

    ``workspace_name`` selects the embedded workspace ``$RUNYARD_HOME/workspaces/<name>``,
    created on first use (one line printed says where). An Azure ``config.json`` works
    unchanged through :meth:`from_config`.

    Args:
        subscription_id: Kept as identity (v1 name); any string.
        resource_group: Kept as identity (v1 name); any string.
        workspace_name: The workspace's name (3 to 33 letters, digits, '_' or '-').
        auth: Accepted for v1 compatibility; embedded workspaces need none.

    Raises:
        UserErrorException: The name is not valid.
    """

    def __init__(
        self,
        subscription_id: str,
        resource_group: str,
        workspace_name: str,
        auth: Any = None,
        _location: str | None = None,
        _disable_service_check: bool = False,
        _workspace_id: str | None = None,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        _cloud: str = "AzureCloud",
    ) -> None:
        settings = Settings.from_env()
        identity, created = _ws.create_workspace(
            settings,
            workspace_name,
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=_location,
            sku=sku,
            tags=tags,
            exist_ok=True,
        )
        if created:
            _announce_created(settings, workspace_name)
        self._init(settings, _ws.layout_for(settings, workspace_name), identity)

    def _init(
        self, settings: Settings, layout: WorkspaceLayout, identity: _ws.WorkspaceIdentity
    ) -> None:
        self._settings = settings
        self._layout = layout
        self._identity = identity
        self._opened: Services | None = None
        # How _services opens the stores: a job's workspace reaches them through the agent
        # (runyard.core.run_context sets the job channel's opener).
        self._opener: Callable[[WorkspaceLayout, Settings], Services] = open_services

    @classmethod
    def _from_layout(
        cls,
        layout: WorkspaceLayout,
        *,
        name: str,
        subscription_id: str,
        resource_group: str,
    ) -> Workspace:
        """A Workspace over an existing folder, opening nothing (used by job processes)."""
        ws = cls.__new__(cls)
        identity = _ws.WorkspaceIdentity(
            name=name,
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=_ws.DEFAULT_LOCATION,
            id="",
            created_time="",
        )
        ws._init(Settings.from_env(), layout, identity)
        return ws

    @classmethod
    def _from_identity(cls, settings: Settings, identity: _ws.WorkspaceIdentity) -> Workspace:
        ws = cls.__new__(cls)
        ws._init(settings, _ws.layout_for(settings, identity.name), identity)
        return ws

    # ---- lookup ------------------------------------------------------------------------
    @staticmethod
    def from_config(
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Finds config.json as v1 does and returns its workspace.

        Args:
            path: A config file, or a folder to start the search from (default: cwd).
                Searched in turn, each walking up to the root: ``.azureml/``,
                ``aml_config/``, then the folder itself (config.json, then project.json).
            auth: Accepted for v1 compatibility.
            _file_name: Look for this file name instead.

        Returns:
            The workspace named in the file (created on first use).

        Raises:
            UserErrorException: No file found, or a required key is missing.
        """
        config_path = _ws.find_config_file(path, _file_name)
        subscription_id, resource_group, name = _ws.read_config_file(config_path)
        return Workspace(subscription_id, resource_group, name, auth=auth)

    @staticmethod
    def get(
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        cloud: str = "AzureCloud",
        id: str | None = None,
    ) -> Workspace:
        """Returns an existing workspace.

        Raises:
            UserErrorException: No workspace with that name (the message says how to
                list and create one).
        """
        settings = Settings.from_env()
        return Workspace._from_identity(settings, _ws.get_workspace(settings, name))

    @staticmethod
    def create(
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        create_resource_group: bool = True,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        friendly_name: str | None = None,
        exist_ok: bool = False,
        show_output: bool = True,
        **kwargs: Any,
    ) -> Workspace:
        """Creates an embedded workspace under RUNYARD_HOME.

        Args:
            name: 3 to 33 letters, digits, '_' or '-', starting with a letter or digit.
            subscription_id: Identity kept in workspace.json (and in write_config's file).
            resource_group: Identity kept in workspace.json.
            location: Free text kept as identity (default 'local').
            exist_ok: Return the existing workspace instead of raising.
            show_output: Print where the workspace was created.
            **kwargs: v1's Azure resource arguments (storage_account, key_vault ...);
                accepted and ignored since an embedded workspace has none of them.

        Raises:
            UserErrorException: Bad name, or the workspace exists and exist_ok is False.
        """
        settings = Settings.from_env()
        identity, created = _ws.create_workspace(
            settings,
            name,
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=location,
            sku=sku,
            tags=tags,
            exist_ok=exist_ok,
        )
        if created and show_output:
            print(
                f"Created embedded workspace {name!r} at {settings.workspace_root(name)} "
                f"(RUNYARD_HOME={settings.home})"
            )
        return Workspace._from_identity(settings, identity)

    @staticmethod
    def list(
        subscription_id: str | None = None, auth: Any = None, resource_group: str | None = None
    ) -> dict[str, list[Workspace]]:
        """All embedded workspaces under RUNYARD_HOME: {name: [Workspace]}, as v1 returns.

        subscription_id and resource_group filter when given.
        """
        settings = Settings.from_env()
        result: dict[str, list[Workspace]] = {}
        for identity in _ws.list_workspaces(settings):
            if subscription_id and identity.subscription_id != subscription_id:
                continue
            if resource_group and identity.resource_group != resource_group:
                continue
            result.setdefault(identity.name, []).append(
                Workspace._from_identity(settings, identity)
            )
        return result

    def write_config(
        self, path: str | os.PathLike[str] | None = None, file_name: str | None = None
    ) -> None:
        """Writes this workspace's config file (v1's Scope form).

        Args:
            path: Folder to write under (default cwd): ``aml_config/`` if it exists there,
                else ``.azureml/``.
            file_name: Default ``config.json`` (``project.json`` if that already exists).
        """
        _ws.write_config_file(self._identity, path, file_name)

    # ---- identity ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._identity.name

    @property
    def subscription_id(self) -> str:
        return self._identity.subscription_id

    @property
    def resource_group(self) -> str:
        return self._identity.resource_group

    @property
    def location(self) -> str:
        return self._identity.location

    @property
    def sku(self) -> str:
        return self._identity.sku

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._identity.tags)

    @property
    def discovery_url(self) -> str:
        return self._layout.root.as_uri()

    def get_details(self) -> dict[str, Any]:
        """workspace.json's identity plus where the workspace lives."""
        ident = self._identity
        return {
            "id": ident.scope(),
            "name": ident.name,
            "location": ident.location,
            "sku": ident.sku,
            "tags": dict(ident.tags),
            "workspaceid": ident.id,
            "creationTime": ident.created_time,
            "root": str(self._layout.root),
        }

    # ---- services ----------------------------------------------------------------------
    @property
    def _services(self) -> Services:
        # Opened on first use: job processes build Workspace objects without SQLAlchemy.
        if self._opened is None:
            try:
                self._opened = self._opener(self._layout, self._settings)
            except ModuleNotFoundError as exc:
                # A job in a built environment has Runyard's light side on its path but not
                # the store's libraries (Model.get_model_path, Model(ws, ...) in a script).
                if (exc.name or "").split(".")[0] not in ("sqlalchemy", "alembic"):
                    raise
                raise UserErrorException(
                    f"This call needs the store of workspace {self.name!r}, and SQLAlchemy is "
                    f"not installed in this Python ({sys.executable}); a job's built "
                    "environment gets only Runyard's light job side. Make the call from the "
                    "driver (e.g. download the model there and ship it with the source "
                    "directory), or add 'sqlalchemy' and 'alembic' to the environment's "
                    "pip_packages."
                ) from None
        return self._opened

    # ---- collections (each a fresh read, like v1's service calls) ----------------------
    @property
    def experiments(self) -> dict[str, Experiment]:
        return {e.name: e for e in Experiment.list(self)}

    @property
    def models(self) -> dict[str, Model]:
        # late: job side (see the note at the top of this module)
        from runyard.core.model import Model

        return {m.name: m for m in Model.list(self, latest=True)}

    @property
    def webservices(self) -> dict[str, Any]:
        # late: job side (see the note at the top of this module)
        from runyard.core.webservice import Webservice

        return {s.name: s for s in Webservice.list(self)}

    @property
    def compute_targets(self) -> dict[str, Any]:
        # late: job side (see the note at the top of this module)
        from runyard.core.compute import ComputeTarget

        return {t.name: t for t in ComputeTarget.list(self)}

    @property
    def datastores(self) -> dict[str, Datastore]:
        # late: job side (see the note at the top of this module)
        from runyard.core.datastore import Datastore

        return {d.name: d for d in Datastore.list(self)}

    @property
    def datasets(self) -> dict[str, Any]:
        # late: job side (see the note at the top of this module)
        from runyard.core.dataset import Dataset

        return Dataset.get_all(self)

    @property
    def environments(self) -> dict[str, Environment]:
        # late: job side (see the note at the top of this module)
        from runyard.core.environment import Environment

        return Environment.list(self)

    def get_default_keyvault(self) -> Keyvault:
        """The workspace's key vault (v1's): its secrets, one private file each."""
        # late: job side (see the note at the top of this module)
        from runyard.core.keyvault import Keyvault

        return Keyvault(self)

    def get_default_datastore(self) -> Datastore:
        """The default datastore: the folder store 'workspaceblobstore' unless changed.

        Returns:
            A Datastore (created on first use under the workspace root).
        """
        # late: job side (see the note at the top of this module)
        from runyard.core.datastore import Datastore

        return Datastore.get_default(self)

    def set_default_datastore(self, name: str) -> None:
        """Makes the datastore ``name`` the default.

        Raises:
            DatastoreNotFound: No datastore with that name.
        """
        # late: job side (see the note at the top of this module)
        from runyard._services import datastores

        datastores.set_default_datastore(self._services, name)

    def get_run(self, run_id: str) -> Run:
        """Same as ``Run.get(ws, run_id)``."""
        return Run.get(self, run_id)

    def __repr__(self) -> str:
        return (
            f"Workspace.create(name={self.name!r}, subscription_id={self.subscription_id!r}, "
            f"resource_group={self.resource_group!r})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._layout.root == self._layout.root

    def __hash__(self) -> int:
        return hash(self._layout.root)


def _announce_created(settings: Settings, name: str) -> None:
    # print is allowed here: the issue asks to say where it was made, and loudly when a
    # typo in workspace_name made a new workspace next to existing ones.
    print(
        f"Created embedded workspace {name!r} at {settings.workspace_root(name)} "
        f"(RUNYARD_HOME={settings.home})"
    )
    others = [w.name for w in _ws.list_workspaces(settings) if w.name != name]
    if others:
        print(
            f"WARNING: workspace_name={name!r} matched no workspace, so a NEW empty one was "
            f"created; this RUNYARD_HOME already holds {', '.join(repr(o) for o in others)}. "
            "If you meant one of those, fix the name (Workspace.get(name) raises instead of "
            f"creating) and remove this one with `rm -r {settings.workspace_root(name)}`.",
            file=sys.stderr,
        )


# v1 import paths (azureml.core.workspace.Model ...), loaded on first use: light, no cycle.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AmlCompute": "runyard.core.compute",
        "ComputeTarget": "runyard.core.compute",
        "Dataset": "runyard.core.dataset",
        "Keyvault": "runyard.core.keyvault",
        "Model": "runyard.core.model",
        "Webservice": "runyard.core.webservice",
    },
)
