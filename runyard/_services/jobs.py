"""Submitting and canceling script runs on the local target or a compute cluster.

``submit_script_run`` validates, snapshots the source directory, stores the run Queued with
its definition (v1's runDefinition: script, arguments, snapshot id ...), then wakes the
workspace's agent, starting it when none runs. Nothing is stored when validation fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runyard._compute import LOCAL, cluster_types
from runyard._compute.ranks import distribution_of
from runyard._compute.ray_config import RAY_TYPE, check_reachable
from runyard._entities import RunError, RunInfo, RunStatus
from runyard._services import Services
from runyard._services import run_attempts as attempts
from runyard._services.agent_client import ensure_agent, wake
from runyard._services.compute import ray_address_for
from runyard._services.runs import new_run_id
from runyard._services.snapshots import check_source_directory, take_snapshot
from runyard.exceptions import UserErrorException

_SHOWN_FILES = 30
_ARGUMENT_TYPES = (str, int, float, bool)


def _check_script(source: Path, script: str) -> str:
    if not isinstance(script, str) or not script:
        raise UserErrorException(
            f"script {script!r} is not a file name; pass the entry script's path relative to "
            f"source_directory, e.g. ScriptRunConfig(source_directory={str(source)!r}, "
            "script='train.py')."
        )
    path = (source / script).resolve()
    if not path.is_relative_to(source):
        raise UserErrorException(
            f"script {script!r} is outside source_directory {str(source)!r}; only files "
            "inside the source directory are snapshotted. Move the script into it."
        )
    if not path.is_file():
        present = sorted(p.relative_to(source).as_posix() for p in source.rglob("*.py"))
        shown = present[:_SHOWN_FILES]
        more = f" (and {len(present) - _SHOWN_FILES} more)" if len(present) > _SHOWN_FILES else ""
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UserErrorException(
            f"script {script!r} {what} in source_directory {str(source)!r}. Python files "
            f"there: {shown}{more}. Pass one of them as script=... (relative to "
            "source_directory)."
        )
    return path.relative_to(source).as_posix()


def _check_arguments(arguments: Sequence[Any] | None) -> list[str]:
    if arguments is None:
        return []
    if isinstance(arguments, str | bytes) or not isinstance(arguments, Sequence):
        raise UserErrorException(
            f"arguments={arguments!r} must be a list, e.g. arguments=['--lr', 0.01]."
        )
    out = []
    for i, arg in enumerate(arguments):
        if not isinstance(arg, _ARGUMENT_TYPES):
            raise UserErrorException(
                f"arguments[{i}]={arg!r} is a {type(arg).__name__}; script arguments must be "
                "str, int, float or bool (they are passed to the script as strings)."
            )
        out.append(str(arg))
    return out


def _check_max_duration(definition: Mapping[str, Any] | None) -> None:
    value = (definition or {}).get("maxRunDurationSeconds")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UserErrorException(
            f"max_run_duration_seconds={value!r} is not a positive number of seconds; pass "
            "e.g. ScriptRunConfig(..., max_run_duration_seconds=3600), or leave the default "
            "(2592000, 30 days)."
        )


def _check_target(services: Services, target: Any) -> str:
    """'local' or the name of a compute target of this workspace that can run jobs."""
    name = getattr(target, "name", target)
    if name == LOCAL:
        return LOCAL
    if name == "amlcompute":
        raise UserErrorException(
            "compute target 'amlcompute' (a run-based cluster made from vm_size) is not "
            "supported; create a cluster with ComputeTarget.create(ws, 'cpu-cluster', "
            "AmlCompute.provisioning_configuration(vm_size=..., max_nodes=...)) and pass "
            "compute_target=<that cluster>, or use compute_target='local'."
        )
    if not isinstance(name, str) or not name:
        raise UserErrorException(
            f"compute target {name!r} is not valid; pass 'local' or a compute target name."
        )
    found = {t.name: t for t in services.store.list_compute_targets()}
    info = found.get(name)
    if info is None:
        raise UserErrorException(
            f"compute target {name!r} does not exist in this workspace (targets: "
            f"{['local', *sorted(found)]}). Create it with ComputeTarget.create(ws, {name!r}, "
            "AmlCompute.provisioning_configuration(...)) or use compute_target='local'."
        )
    if info.compute_type not in cluster_types():
        raise UserErrorException(
            f"compute target {name!r} is a {info.compute_type}, which cannot run jobs here; "
            f"use 'local' or a target of type {cluster_types()}."
        )
    address = ray_address_for(services, info)
    if address:  # a run for a Ray cluster that does not answer is refused, not queued
        check_reachable(address)
    return name


def _check_distribution(services: Services, definition: Mapping[str, Any], target: str) -> None:
    """A distributed run fits its target: all its nodes at once, never more than max_nodes."""
    dist = distribution_of(definition)  # raises on counts that do not fit together
    if dist is None or dist.node_count == 1:
        return
    if target == LOCAL:
        raise UserErrorException(
            f"node_count={dist.node_count} cannot run on compute target 'local' (this machine "
            "is one node). Submit to a cluster: ComputeTarget.create(ws, 'cpu-cluster', "
            f"AmlCompute.provisioning_configuration(vm_size=..., max_nodes={dist.node_count})) "
            "and pass compute_target=<that cluster>, or set node_count=1."
        )
    info = services.store.get_compute_target(target)
    max_nodes = int(info.config.get("max_nodes") or 0)
    if info.compute_type == RAY_TYPE and max_nodes == 0:
        return  # as many nodes as the Ray cluster fits: placement says when it cannot
    if dist.node_count > max_nodes:
        raise UserErrorException(
            f"The run asks for node_count={dist.node_count} nodes at once but compute target "
            f"{target!r} has max_nodes={max_nodes}, so it would never start. Lower node_count "
            f"to {max_nodes} or less, or raise the cluster's limit: "
            f"ComputeTarget(ws, {target!r}).update(max_nodes={dist.node_count})."
        )


def script_definition(
    services: Services,
    *,
    source_directory: str | Path,
    script: str,
    arguments: Sequence[Any],
    target: str = "local",
    environment_variables: Mapping[str, str] | None = None,
    definition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Checks a script run's parts and snapshots its source: its run definition (script,
    arguments, snapshot id, target ...). Shared by script runs and sweeps, whose children
    reuse one snapshot.

    Raises:
        UserErrorException: bad script, arguments, target or source_directory.
        SnapshotException: the source directory is over the snapshot limits.
    """
    source = check_source_directory(source_directory)
    script_rel = _check_script(source, script)
    args = _check_arguments(arguments)
    _check_max_duration(definition)
    if (definition or {}).get(attempts.DEFINITION_KEY) is not None:
        attempts.check_max_retries((definition or {})[attempts.DEFINITION_KEY])
    target_name = _check_target(services, target)
    _check_distribution(services, definition or {}, target_name)
    env_vars = _checked_environment_variables(environment_variables)
    snapshot_id = take_snapshot(services.layout, source, services.settings)
    return {
        **(definition or {}),
        "script": script_rel,
        "arguments": args,
        "source_directory": str(source),
        "snapshot_id": snapshot_id,
        "environment_variables": env_vars,
        "target": target_name,
    }


def queue_script_run(
    services: Services,
    *,
    run_id: str,
    experiment_name: str,
    run_definition: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    display_name: str | None = None,
    run_type: str = "azureml.scriptrun",
    parent_run_id: str | None = None,
) -> RunInfo:
    """Stores a checked run definition as a Queued run for the agent (not woken here).

    Raises:
        RunIdAlreadyExists: ``run_id`` is taken.
    """
    return services.store.create_run(
        run_id=run_id,
        experiment_name=experiment_name,
        status=RunStatus.QUEUED,
        run_type=run_type,
        target=str(run_definition["target"]),
        parent_run_id=parent_run_id,
        display_name=display_name,
        tags=dict(tags or {}),
        # v1 records the snapshot as an immutable property of the run.
        properties={"ContentSnapshotId": str(run_definition["snapshot_id"])},
        definition=dict(run_definition),
        agent_managed=True,
    )


def submit_script_run(
    services: Services,
    *,
    experiment_name: str,
    source_directory: str | Path,
    script: str,
    arguments: Sequence[Any],
    target: str = "local",
    tags: Mapping[str, str] | None = None,
    display_name: str | None = None,
    environment_variables: Mapping[str, str] | None = None,
    definition: Mapping[str, Any] | None = None,
    run_type: str = "azureml.scriptrun",
    parent_run_id: str | None = None,
) -> RunInfo:
    """Snapshots the source, stores the run Queued and hands it to the agent.

    Raises:
        UserErrorException: bad script, arguments, target or source_directory.
        SnapshotException: the source directory is over the snapshot limits.
    """
    run_definition = script_definition(
        services, source_directory=source_directory, script=script, arguments=arguments,
        target=target, environment_variables=environment_variables, definition=definition,
    )  # fmt: skip
    info = queue_script_run(
        services, run_id=new_run_id(experiment_name), experiment_name=experiment_name,
        run_definition=run_definition, tags=tags, display_name=display_name,
        run_type=run_type, parent_run_id=parent_run_id,
    )  # fmt: skip
    ensure_agent(services.layout, services.settings)
    return info


_CANCELABLE = (
    RunStatus.PREPARING,
    RunStatus.PROVISIONING,
    RunStatus.STARTING,
    RunStatus.RUNNING,
    RunStatus.FINALIZING,
)


def cancel_run(services: Services, run_id: str, reason: RunError | None = None) -> RunInfo:
    """Queued → Canceled at once; a running run → CancelRequested, and its agent kills
    the job's process group and ends it Canceled. A finished run is returned unchanged.
    ``reason``: why (a sweep's policy stopped it), kept as the run's error."""
    store = services.store
    info = store.get_run(run_id)
    if info.status.is_terminal():
        return info
    done = store.set_run_status(
        run_id, RunStatus.CANCELED, error=reason, expected={RunStatus.QUEUED, RunStatus.NOT_STARTED}
    )
    if done is not None:
        wake(services.layout)
        return done
    requested = store.set_run_status(
        run_id, RunStatus.CANCEL_REQUESTED, error=reason, expected=_CANCELABLE
    )
    if requested is None:  # finished, or already requested, meanwhile
        return store.get_run(run_id)
    if requested.agent_managed:
        # A dead agent's runs are ended by the next agent's reconcile.
        ensure_agent(services.layout, services.settings)
    return requested


def _checked_environment_variables(variables: Mapping[str, Any] | None) -> dict[str, str]:
    """Names must be usable in a process environment; values str or plain numbers."""
    if variables is not None and not isinstance(variables, Mapping):
        raise UserErrorException(
            f"environment_variables must be a dict of name -> value, got "
            f"{type(variables).__name__}."
        )
    checked: dict[str, str] = {}
    for key, value in (variables or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\x00" in key:
            raise UserErrorException(
                f"Environment variable name {key!r} is not valid: use a non-empty str without "
                "'=', e.g. {'MY_SETTING': '1'}."
            )
        if not isinstance(value, str | int | float):
            raise UserErrorException(
                f"Environment variable {key}={value!r} must be a str or a number, not "
                f"{type(value).__name__}; pass str(value) if that is what you mean."
            )
        checked[key] = str(value)
    return checked
