"""Experiments and runs: create, read, list, status and children."""

from __future__ import annotations

import getpass
import re
import time
import uuid
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from runyard._entities import ErrorCode, ExperimentInfo, RunError, RunInfo, RunRuntime, RunStatus
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services

EXPERIMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")
INTERACTIVE = "interactive"


def check_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not EXPERIMENT_NAME_RE.match(name):
        raise UserErrorException(
            f"Experiment name {name!r} is not valid. Experiment name must be between 1 and "
            "255 characters long. Its first character has to be alphanumeric, and the rest "
            "may contain hyphens and underscores. No whitespace is allowed."
        )
    return name


def new_run_id(experiment_name: str) -> str:
    """v1's shape: <experiment>_<epoch seconds>_<8 hex>."""
    return f"{experiment_name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


# ---- experiments ---------------------------------------------------------------------------


def get_or_create_experiment(services: Services, name: str) -> ExperimentInfo:
    return services.store.get_or_create_experiment(check_experiment_name(name))


def get_experiment(services: Services, name: str) -> ExperimentInfo:
    """Raises ExperimentNotFound."""
    return services.store.get_experiment(name)


VIEW_TYPES = ("ActiveOnly", "All", "ArchivedOnly")


def list_experiments(
    services: Services,
    name: str | None = None,
    *,
    view_type: str = "ActiveOnly",
    tags: str | Mapping[str, Any] | None = None,
) -> list[ExperimentInfo]:
    """v1's view_type: ActiveOnly (the default) hides archived experiments; tags: a key
    the experiment must have, or {key: value} pairs it must match."""
    if view_type not in VIEW_TYPES:
        raise UserErrorException(
            f"view_type={view_type!r} is not one of {', '.join(VIEW_TYPES)}; pass "
            "ViewType.ActiveOnly (the default), ViewType.All or ViewType.ArchivedOnly "
            "(from azureml.core.experiment import ViewType)."
        )
    if tags is not None and not isinstance(tags, str | Mapping):
        raise UserErrorException(
            f"Experiment.list(tags={tags!r:.80}) takes a tag key (str) or a dict of "
            "{key: value} to match, e.g. tags={'team': 'vision'}."
        )
    wanted = {tags: None} if isinstance(tags, str) else dict(tags or {})
    found = [
        e
        for e in services.store.list_experiments()
        if (name is None or e.name == name)
        and all(k in e.tags and (v is None or e.tags[k] == str(v)) for k, v in wanted.items())
    ]
    if view_type == "ActiveOnly":
        return [e for e in found if e.archived_time is None]
    if view_type == "ArchivedOnly":
        return [e for e in found if e.archived_time is not None]
    return found


def set_experiment_archived(services: Services, name: str, archived: bool) -> ExperimentInfo:
    """Archive keeps the first archived_time; both are idempotent. Raises ExperimentNotFound."""
    return services.store.update_experiment(name, archived=archived)


def set_experiment_tags(services: Services, name: str, tags: Mapping[str, Any]) -> ExperimentInfo:
    if not isinstance(tags, Mapping):
        raise UserErrorException(
            f"Experiment.set_tags takes a dict of tag -> value, got {type(tags).__name__} "
            f"({tags!r:.80}); for one tag use experiment.tag(key, value)."
        )
    checked = {_experiment_tag_key(k): None if v is None else str(v) for k, v in tags.items()}
    return services.store.update_experiment(name, set_tags=checked)


def remove_experiment_tags(services: Services, name: str, keys: Any) -> ExperimentInfo:
    if isinstance(keys, str) or not isinstance(keys, Collection):
        raise UserErrorException(
            f"Experiment.remove_tags takes a list of tag keys, got {type(keys).__name__} "
            f"({keys!r:.80}); e.g. experiment.remove_tags(['owner'])."
        )
    return services.store.update_experiment(
        name, remove_tags=[_experiment_tag_key(k) for k in keys]
    )


def _experiment_tag_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise UserErrorException(
            f"Experiment tag keys must be non-empty str, got {key!r}; e.g. "
            "experiment.tag('owner', 'me')."
        )
    return key


# ---- runs ----------------------------------------------------------------------------------


def start_run(
    services: Services,
    *,
    experiment_name: str,
    run_id: str | None = None,
    display_name: str | None = None,
    parent_run_id: str | None = None,
    status: RunStatus = RunStatus.RUNNING,
    run_type: str = INTERACTIVE,
    definition: Mapping[str, Any] | None = None,
) -> RunInfo:
    """Creates a run that this process logs to directly (start_logging, child_run)."""
    check_experiment_name(experiment_name)
    if run_id is None:
        run_id = new_run_id(experiment_name)
    elif not isinstance(run_id, str) or not re.match(r"^[\w\-.]{1,255}$", run_id):
        raise UserErrorException(
            f"Run id {run_id!r} is not valid: use 1 to 255 letters, digits, '_', '-' or '.', "
            "or leave run_id out to get a generated one."
        )
    info = services.store.create_run(
        run_id=run_id,
        experiment_name=experiment_name,
        status=status,
        run_type=run_type,
        parent_run_id=parent_run_id,
        display_name=display_name,
        definition=definition,
        properties=(
            {"ContentSnapshotId": definition["snapshotId"]}
            if definition and definition.get("snapshotId")
            else None
        ),
    )
    services.store.update_run(run_id, runtime=RunRuntime(submitted_by=_user()))
    return info


BATCH_CHILD_TAG = "azureml.batch_child_number"  # v1's tag of create_children(count=n)
MAX_CHILDREN_AT_ONCE = 100


def create_children(
    services: Services,
    *,
    experiment_name: str,
    parent_run_id: str,
    count: int | None = None,
    tag_key: str | None = None,
    tag_values: Collection[Any] | None = None,
) -> list[RunInfo]:
    """v1's Run.create_children: ``count`` children tagged azureml.batch_child_number 0..n-1,
    or one child per value of ``tag_values``, tagged ``tag_key``; each starts Running."""
    if tag_key is None and tag_values is None and count is None:
        raise UserErrorException(
            "Either count or tag_key and tag_values must be set, e.g. create_children(count=5)."
        )
    if tag_key is not None or tag_values is not None:
        if tag_key is None:
            raise UserErrorException("tag_key must not be null when tag_values is set.")
        if tag_values is None:
            raise UserErrorException("tag_values must not be null when tag_key is set.")
        if count is not None:
            raise UserErrorException("count can not be set when tag_key and tag_values are set.")
        values = list(tag_values)
    else:
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise UserErrorException(f"count must be an int >= 0, got {count!r}.")
        tag_key, values = BATCH_CHILD_TAG, list(range(count))
    if len(values) > MAX_CHILDREN_AT_ONCE:
        raise UserErrorException(
            f"create_children can not create more than {MAX_CHILDREN_AT_ONCE} runs "
            f"({len(values)} asked); call it again for more."
        )
    children = []
    for value in values:
        info = start_run(services, experiment_name=experiment_name, parent_run_id=parent_run_id)
        children.append(services.store.set_tags(info.run_id, {tag_key: str(value)}))
    return children


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def get_run(services: Services, run_id: str) -> RunInfo:
    """The run as stored; starts the agent when the run waits for one that died (so that
    polling ``get_status()`` alone reaches the run's true end)."""
    # late: job side; a job's start imports this module, and needs no agent client
    from runyard._services.agent_client import revive_agent

    info = services.store.get_run(run_id)
    revive_agent(services, [info])
    return info


def update_run(
    services: Services,
    run_id: str,
    *,
    display_name: str | None = None,
    description: str | None = None,
) -> RunInfo:
    """Changes the run's display name and/or description (None leaves one as it is)."""
    return services.store.update_run(run_id, display_name=display_name, description=description)


def list_runs(
    services: Services,
    *,
    experiment_name: str | None = None,
    parent_run_id: str | None = None,
    run_type: str | None = None,
    tags: Mapping[str, str | None] | Collection[str] | None = None,
    properties: Mapping[str, str] | Collection[str] | None = None,
    statuses: Collection[str] | None = None,
    include_children: bool = False,
) -> list[RunInfo]:
    # late: job side; a job's start imports this module, and needs no agent client
    from runyard._services.agent_client import revive_agent

    found = services.store.list_runs(
        experiment_name=experiment_name,
        parent_run_id=parent_run_id,
        include_children=include_children,
        statuses=None if statuses is None else [_run_status(s) for s in statuses],
        tags=_filter_arg(tags),
        properties=_filter_arg(properties),
        run_type=run_type,
    )
    revive_agent(services, found)
    return found


def _run_status(value: Any) -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError:
        names = [s.value for s in RunStatus]
        raise UserErrorException(
            f"status {value!r} is not a run status; use one of {names} (spelled as shown)."
        ) from None


def _filter_arg(value: Any) -> Any:
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        return [value]
    return list(value)


def list_descendants(services: Services, run_id: str) -> list[RunInfo]:
    """Children, grandchildren ... breadth first."""
    found: list[RunInfo] = []
    frontier = [run_id]
    while frontier:
        nxt: list[str] = []
        for parent in frontier:
            children = services.store.list_runs(parent_run_id=parent)
            found.extend(children)
            nxt.extend(c.run_id for c in children)
        frontier = nxt
    return found


def set_status(
    services: Services, run_id: str, status: RunStatus, *, error: RunError | None = None
) -> RunInfo:
    info = services.store.set_run_status(run_id, status, error=error)
    assert info is not None  # no `expected` given: the store always answers
    return info


def error_from(error_details: Any, error_code: str | None) -> RunError:
    """v1's fail(error_details, error_code) as the run's error."""
    if isinstance(error_details, BaseException):
        message = f"{type(error_details).__name__}: {error_details}"
    elif error_details is None:
        message = "The run was marked failed by run.fail()."
    else:
        message = str(error_details)
    return RunError(error_code or ErrorCode.USER_ERROR, message)
