"""Embedded workspaces on disk (workspace.json) and v1's config.json files.

Light: no store is opened here, so building a Workspace object costs no SQLAlchemy import.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runyard._config import Settings, WorkspaceLayout, make_private_dir
from runyard.exceptions import UserErrorException

WORKSPACE_NAME_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{2,32}$")
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "runyard"
DEFAULT_LOCATION = "local"

# v1's three searches, each walking from the start folder up to the root (first hit wins).
_CONFIG_SEARCHES = (
    (".azureml", ("config.json", "project.json")),
    ("aml_config", ("config.json", "project.json")),
    ("", ("config.json", "project.json")),
)
_REQUIRED_KEYS = ("subscription_id", "resource_group", "workspace_name")


@dataclass(frozen=True, slots=True)
class WorkspaceIdentity:
    """What workspace.json holds."""

    name: str
    subscription_id: str
    resource_group: str
    location: str
    id: str
    created_time: str
    sku: str = "basic"
    tags: dict[str, str] = field(default_factory=dict)

    def scope(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
        )


def check_workspace_name(name: object) -> str:
    if not isinstance(name, str) or not WORKSPACE_NAME_RE.match(name):
        raise UserErrorException(
            f"Workspace name {name!r} is not valid: it must be 3 to 33 characters long, start "
            "with a letter or digit, and contain only letters, digits, '_' and '-' "
            "(for example 'my-workspace')."
        )
    return name


def layout_for(settings: Settings, name: str) -> WorkspaceLayout:
    return WorkspaceLayout(settings.workspace_root(name))


def _load_workspace_json(layout: WorkspaceLayout) -> Any:
    """workspace.json's content, or None when there is none.

    Raises:
        UserErrorException: the file cannot be read or is not JSON.
    """
    try:
        return json.loads(layout.workspace_json.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserErrorException(
            f"Workspace file {layout.workspace_json} cannot be read ({exc}); fix or delete "
            "it, then create the workspace again with `runyard workspace create`."
        ) from None


def read_identity(layout: WorkspaceLayout) -> WorkspaceIdentity | None:
    data = _load_workspace_json(layout)
    if data is None:
        return None
    return WorkspaceIdentity(
        name=data["name"],
        subscription_id=data.get("subscription_id") or DEFAULT_SUBSCRIPTION,
        resource_group=data.get("resource_group") or DEFAULT_RESOURCE_GROUP,
        location=data.get("location") or DEFAULT_LOCATION,
        id=data.get("id") or "",
        created_time=data.get("created_time") or "",
        sku=data.get("sku") or "basic",
        tags=dict(data.get("tags") or {}),
    )


def create_workspace(
    settings: Settings,
    name: str,
    *,
    subscription_id: str | None = None,
    resource_group: str | None = None,
    location: str | None = None,
    sku: str = "basic",
    tags: dict[str, str] | None = None,
    exist_ok: bool = False,
) -> tuple[WorkspaceIdentity, bool]:
    """Returns (identity, created). Safe when several processes create one name at once."""
    check_workspace_name(name)
    layout = layout_for(settings, name)
    existing = read_identity(layout)
    if existing is not None:
        if not exist_ok:
            raise UserErrorException(
                f"Workspace {name!r} already exists at {layout.root}. Use "
                f"Workspace.get({name!r}) or Workspace.create({name!r}, exist_ok=True)."
            )
        return existing, False
    identity = WorkspaceIdentity(
        name=name,
        subscription_id=subscription_id or DEFAULT_SUBSCRIPTION,
        resource_group=resource_group or DEFAULT_RESOURCE_GROUP,
        location=location or DEFAULT_LOCATION,
        id=str(uuid.uuid4()),
        created_time=datetime.now(timezone.utc).isoformat(),
        sku=sku,
        tags=dict(tags or {}),
    )
    for folder in (layout.artifacts_dir, layout.snapshots_dir, layout.jobs_dir, layout.agent_dir):
        make_private_dir(folder)
    make_private_dir(layout.root, tighten_from=settings.home)
    if not _publish_json(layout.workspace_json, _identity_dict(identity)):
        # Another process won the race: its identity is the workspace's.
        winner = read_identity(layout)
        assert winner is not None
        if not exist_ok:
            raise UserErrorException(
                f"Workspace {name!r} already exists at {layout.root}. Use "
                f"Workspace.get({name!r}) or Workspace.create({name!r}, exist_ok=True)."
            )
        return winner, False
    return identity, True


def get_workspace(settings: Settings, name: str) -> WorkspaceIdentity:
    check_workspace_name(name)
    identity = read_identity(layout_for(settings, name))
    if identity is None:
        raise UserErrorException(
            f"No workspace named {name!r} under RUNYARD_HOME={settings.home}. List workspaces "
            f"with `runyard workspace list`; create it with Workspace.create({name!r}) or "
            f"`runyard workspace create {name}`."
        )
    return identity


def list_workspaces(settings: Settings) -> list[WorkspaceIdentity]:
    root = settings.home / "workspaces"
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        identity = read_identity(WorkspaceLayout(child))
        if identity is not None:
            found.append(identity)
    return found


# ---- the workspace's Ray cluster (issue 12) -------------------------------------------


def configure_ray_address(layout: WorkspaceLayout, address: str, *, check: bool = True) -> str:
    """Stores the Ray cluster every AmlCompute cluster of the workspace runs on ("ray_address"
    in workspace.json); '' clears it. Returns the address stored ('' when cleared).

    Raises:
        ComputeTargetException: not host:port, or (``check``) nothing answers there; the
            file is left as it was.
        UserErrorException: workspace.json is missing or unreadable.
    """
    # late: importing runyard._compute loads every backend (~35 ms), and Workspace objects
    # (this module) are built where no compute is used
    from runyard._compute.ray_config import WORKSPACE_KEY
    from runyard._services.compute import check_ray_address, check_ray_reachable

    text = check_ray_address(address) if address.strip() else ""
    if text and check:
        check_ray_reachable(text)
    data = _read_workspace_json(layout)
    if text:
        data[WORKSPACE_KEY] = text
    else:
        data.pop(WORKSPACE_KEY, None)
    _replace_json(layout.workspace_json, data)
    return text


def ray_address(layout: WorkspaceLayout) -> tuple[str, str | None]:
    """(address, where it comes from: the env var's name, 'workspace.json' or None)."""
    # late: as in configure_ray_address
    from runyard._compute.ray_config import ADDRESS_VARIABLE, workspace_ray_address

    effective = workspace_ray_address(layout.workspace_json)
    if not effective:
        return "", None
    stored = workspace_ray_address(layout.workspace_json, environ={})
    return effective, layout.workspace_json.name if effective == stored else ADDRESS_VARIABLE


def _read_workspace_json(layout: WorkspaceLayout) -> dict[str, Any]:
    path = layout.workspace_json
    data = _load_workspace_json(layout)
    if data is None:
        raise UserErrorException(
            f"No workspace at {layout.root} ({path.name} is missing); create it with "
            f"`runyard workspace create {layout.root.name}`."
        )
    if not isinstance(data, dict):
        raise UserErrorException(
            f"Workspace file {path} does not hold a JSON object; fix or delete it, then "
            "create the workspace again with `runyard workspace create`."
        )
    return data


def _replace_json(target: Path, data: dict[str, Any]) -> None:
    """Replaces target with data in one rename: readers see the old file or the new one.
    Two writers at once: the last one wins, and both keep the identity they read (it never
    changes after create)."""
    tmp = _written_aside(target, data, durable=True)
    try:
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _written_aside(target: Path, data: dict[str, Any], *, durable: bool = False) -> str:
    """A new temporary file beside ``target`` holding ``data`` (fsynced when ``durable``)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".workspace-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _identity_dict(identity: WorkspaceIdentity) -> dict[str, Any]:
    return {
        "name": identity.name,
        "subscription_id": identity.subscription_id,
        "resource_group": identity.resource_group,
        "location": identity.location,
        "id": identity.id,
        "created_time": identity.created_time,
        "sku": identity.sku,
        "tags": identity.tags,
    }


def _publish_json(target: Path, data: dict[str, Any]) -> bool:
    """Writes target only if absent; False when another writer got there first.

    os.link refuses an existing target, so readers never see a half-written file and two
    creators never both win."""
    tmp = _written_aside(target, data)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


# ---- config.json ----------------------------------------------------------------------


def find_config_file(
    path: str | os.PathLike[str] | None = None, file_name: str | None = None
) -> Path:
    """v1's search; raises UserErrorException naming the start folder when nothing is found."""
    start = Path(path if path is not None else ".").expanduser()
    if start.is_file():
        return start
    start = start.resolve()
    names_override = (file_name,) if file_name else None
    for sub, names in _CONFIG_SEARCHES:
        for folder in (start, *start.parents):
            for fname in names_override or names:
                candidate = folder / sub / fname if sub else folder / fname
                if candidate.is_file():
                    return candidate
    wanted = file_name or "config.json"
    raise UserErrorException(
        f"The workspace configuration file {wanted}, could not be found in {start} or its "
        "parent directories. Please check whether the workspace configuration file exists, "
        "or provide the full path to the configuration file as an argument. To create one: "
        "ws = Workspace.create('<name>', exist_ok=True); ws.write_config(), or run "
        "`runyard workspace create <name> --write-config` in this folder (it writes "
        ".azureml/config.json)."
    )


def read_config_file(config_path: Path) -> tuple[str, str, str]:
    """Returns (subscription_id, resource_group, workspace_name) from a v1 config file."""
    try:
        data = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserErrorException(
            f"Workspace configuration file {config_path} is not valid JSON ({exc}). It must "
            'hold {"subscription_id": ..., "resource_group": ..., "workspace_name": ...}.'
        ) from None
    if not isinstance(data, dict):
        raise UserErrorException(
            f"Workspace configuration file {config_path} must hold a JSON object with "
            "subscription_id, resource_group and workspace_name."
        )
    scope = data.get("Scope")
    if isinstance(scope, str) and scope:
        parts = scope.split("/")
        if len(parts) < 9:
            raise UserErrorException(
                f"The Scope {scope!r} in {config_path} is not of the form /subscriptions/<sub>"
                "/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/"
                "workspaces/<name>."
            )
        return parts[2], parts[4], parts[8]
    for key in _REQUIRED_KEYS:
        if not data.get(key):
            raise UserErrorException(
                f"The workspace configuration file {config_path} is missing the key {key!r}. "
                "It must hold subscription_id, resource_group and workspace_name "
                "(write one with ws.write_config())."
            )
    return str(data["subscription_id"]), str(data["resource_group"]), str(data["workspace_name"])


def write_config_file(
    identity: WorkspaceIdentity,
    path: str | os.PathLike[str] | None = None,
    file_name: str | None = None,
) -> Path:
    """v1's rules: <path>/aml_config/ if it exists, else <path>/.azureml/; Scope form."""
    base = Path(path if path is not None else ".").expanduser()
    folder = base / "aml_config" if (base / "aml_config").is_dir() else base / ".azureml"
    folder.mkdir(parents=True, exist_ok=True)
    if file_name is None:
        file_name = "project.json" if (folder / "project.json").is_file() else "config.json"
    target = folder / file_name
    target.write_text(json.dumps({"Id": None, "Scope": identity.scope()}, indent=4))
    return target
