"""HyperDrive sweeps: submitting one, and reading its children and results.

A sweep is a run of type ``hyperdrive`` (id ``HD_<guid>``) that the agent drives
(``sweep_loop``): it starts children ``HD_<guid>_<n>`` (n = 0, 1, ...), ordinary script runs
made from the sweep's base definition plus each child's sampled values as arguments.
Everything the loop decides is in the store, so any agent can carry a sweep on:

- the parent's definition: ``hyperdrive`` (v1's generator, policy and primary metric
  configs, the counts), ``base`` (the children's script run definition) and ``seed``;
- each child's definition: its ``hyperparameters`` and arguments (child ids are unique, so a
  restarted loop never starts a child twice);
- the parent's tags: v1's ``generator_config`` ..., and ``_aml_system_<child id>`` with each
  child's values as JSON (what v1's ``get_hyperparameters`` reads);
- the sweep log ``azureml-logs/hyperdrive.txt``: what was started, stopped and found best.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runyard._config import private_opener
from runyard._entities import RunInfo, RunStatus
from runyard._services import Services
from runyard._services.agent_client import ensure_agent
from runyard._services.driver_log import log_file
from runyard._services.jobs import script_definition
from runyard._services.sweep_policies import evaluate
from runyard._services.sweep_sampling import make_sampler
from runyard.exceptions import UserErrorException

RUN_TYPE = "hyperdrive"
SWEEP_LOG_NAME = "hyperdrive.txt"
SWEEP_LOG = f"azureml-logs/{SWEEP_LOG_NAME}"
SWEEP_ENDED = "Sweep ended"  # the sweep log's last line starts so, just before the status
HYPERPARAMETER_TAG = "_aml_system_"
# v1's parent tags: each a JSON string of part of the configuration.
_CONFIG_TAGS = {
    "generator_config": "generator_config",
    "primary_metric_config": "primary_metric_config",
    "policy_config": "policy_config",
    "max_total_jobs": "max_total_runs",
    "max_concurrent_jobs": "max_concurrent_runs",
    "max_duration_minutes": "max_duration_minutes",
}


def submit_sweep(
    services: Services,
    *,
    experiment_name: str,
    sweep: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    **base: Any,
) -> RunInfo:
    """Checks and snapshots the children's base (``base``: jobs.script_definition's
    arguments), stores the sweep Running and hands it to the agent.

    ``sweep``: HyperDriveConfig._sweep_definition(). A seed is drawn when its sampling
    properties have none, and kept, so the sweep samples the same after an agent restart.
    """
    properties = sweep["generator_config"].get("properties") or {}
    seed = properties.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        seed = random.SystemRandom().randrange(2**31)
    check_sweep(services, sweep, seed)
    base_definition = script_definition(services, **base)
    parent_tags = {tag: json.dumps(sweep[key]) for tag, key in _CONFIG_TAGS.items()}
    parent_tags.update(tags or {})
    run_id = f"HD_{uuid.uuid4()}"
    info = services.store.create_run(
        run_id=run_id,
        experiment_name=experiment_name,
        status=RunStatus.RUNNING,
        run_type=RUN_TYPE,
        target=str(base_definition["target"]),
        tags=parent_tags,
        properties={
            "primary_metric_config": json.dumps(sweep["primary_metric_config"]),
            "ContentSnapshotId": str(base_definition["snapshot_id"]),
        },
        definition={"hyperdrive": dict(sweep), "base": base_definition, "seed": seed},
        agent_managed=True,
    )
    append_sweep_log(services, run_id, f"Sweep {run_id} submitted: {_describe(sweep)}")
    growth = _cluster_growth(services, base_definition, int(sweep["max_concurrent_runs"]))
    if growth:
        append_sweep_log(services, run_id, growth)
    ensure_agent(services.layout, services.settings)
    return info


def check_sweep(services: Services, sweep: Mapping[str, Any], seed: int) -> None:
    """Refuses, before anything is stored, what the agent's loop could not run: an unknown
    sampling, expression, policy or goal, bad limits, and resumed runs that do not exist.

    Raises:
        UserErrorException: naming the part and the fix.
    """
    goal = str(sweep["primary_metric_config"].get("goal", ""))
    metric = sweep["primary_metric_config"].get("name")
    if not isinstance(metric, str) or not metric.strip():
        raise UserErrorException(
            f"The sweep's primary metric name is {metric!r}; give the name the script logs, "
            "e.g. primary_metric_name='Accuracy'."
        )
    make_sampler(sweep["generator_config"], goal, seed)
    evaluate(sweep["policy_config"], goal, metric, {}, (), {})
    for key in ("max_total_runs", "max_concurrent_runs", "max_duration_minutes"):
        value = sweep.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserErrorException(f"The sweep's {key} is {value!r}; it must be an int >= 1.")
    for key in ("resume_from", "resume_child_runs"):
        for run_id in sweep.get(key) or []:
            services.store.get_run(run_id)  # RunNotFound names the id


def _cluster_growth(services: Services, base: Mapping[str, Any], concurrent: int) -> str | None:
    """v1 grows a cluster up to node_count x max_concurrent_runs nodes for a sweep; here the
    scheduler does, as the children queue, within the cluster's max_nodes."""
    target = str(base.get("target", "local"))
    if target == "local":
        return None
    info = services.store.get_compute_target(target)
    max_nodes = int(info.config.get("max_nodes") or 0)
    node_count = int(base.get("nodeCount") or 1)
    wanted = node_count * concurrent
    line = (
        f"Cluster {target!r} grows up to {min(wanted, max_nodes)} nodes for this sweep "
        f"(node_count {node_count} x max_concurrent_runs {concurrent} = {wanted}, "
        f"max_nodes {max_nodes})."
    )
    if wanted > max_nodes:
        at_once = max(max_nodes // node_count, 1)
        line += (
            f" At most {at_once} children run at once; raise the cluster's max_nodes to "
            f"{wanted} for {concurrent}."
        )
    return line


def _describe(sweep: Mapping[str, Any]) -> str:
    metric = sweep["primary_metric_config"]
    policy = sweep["policy_config"]["name"]
    return (
        f"{sweep['generator_config']['name']} sampling, primary metric {metric['name']!r} "
        f"({metric['goal']}), policy {policy}, max_total_runs={sweep['max_total_runs']}, "
        f"max_concurrent_runs={sweep['max_concurrent_runs']}, "
        f"max_duration_minutes={sweep['max_duration_minutes']}"
    )


def append_sweep_log(services: Services, run_id: str, *lines: str) -> None:
    """Appends time-stamped lines to the sweep's ``azureml-logs/hyperdrive.txt``."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    path: Path = log_file(services, run_id, SWEEP_LOG_NAME)
    with open(path, "a", encoding="utf-8", opener=private_opener) as f:
        f.writelines(f"[{stamp}] {line}\n" for line in lines)


# ---- reading a sweep ---------------------------------------------------------------------


def sweep_config(info: RunInfo) -> Mapping[str, Any]:
    """The sweep's definition (HyperDriveConfig._sweep_definition()'s dict)."""
    config: Mapping[str, Any] = info.definition["hyperdrive"]
    return config


def child_index(run_id: str) -> int:
    return int(run_id.rsplit("_", 1)[1])


def child_run_id(parent_id: str, index: int) -> str:
    return f"{parent_id}_{index}"


def children(services: Services, parent_id: str) -> list[RunInfo]:
    """The sweep's children in child order (0, 1, ...)."""
    found = services.store.list_runs(parent_run_id=parent_id)
    return sorted(found, key=lambda i: child_index(i.run_id))


def hyperparameters(info: RunInfo) -> dict[str, Any]:
    """A child's sampled values, keyed as in the parameter space."""
    return dict(info.definition.get("hyperparameters") or {})


def primary_values(services: Services, run_id: str, metric: str) -> list[float]:
    """The values a run logged for the primary metric, in order; non-numbers left out."""
    series = services.store.get_metrics(run_id, names=[metric]).get(metric)
    if series is None:
        return []
    return [float(v) for v in series.values if _is_number(v)]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def best_of(values: Sequence[float], goal: str) -> float | None:
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


def ranked_children(
    services: Services,
    parent: RunInfo,
    *,
    statuses: Sequence[RunStatus] | None = None,
    with_resumed: bool = False,
) -> list[tuple[RunInfo, float | None]]:
    """(child, best primary metric) best first; children without the metric last, in child
    order. ``with_resumed``: the children of the sweeps this one resumed from as well."""
    config = sweep_config(parent)
    metric = config["primary_metric_config"]["name"]
    goal = config["primary_metric_config"]["goal"]
    found = children(services, parent.run_id)
    if with_resumed:
        for earlier in config.get("resume_from") or []:
            found += children(services, earlier)
    if statuses is not None:
        found = [c for c in found if c.status in statuses]
    scored = [(c, best_of(primary_values(services, c.run_id, metric), goal)) for c in found]
    with_metric = [s for s in scored if s[1] is not None]
    with_metric.sort(key=lambda s: s[1], reverse=goal == "maximize")  # type: ignore[arg-type, return-value]
    return with_metric + [s for s in scored if s[1] is None]


def logged_metric_names(services: Services, parent_id: str) -> list[str]:
    """Every metric name the sweep's children logged (for "no child logged X" warnings)."""
    names: set[str] = set()
    for child in children(services, parent_id):
        names.update(services.store.get_metrics(child.run_id))
    return sorted(names)


def summary(services: Services, parent: RunInfo) -> dict[str, Any]:
    """What `runyard runs show HD_...` adds: the primary metric, the best run, and every
    child with its hyperparameters, status and best primary metric, best first."""
    metric = sweep_config(parent)["primary_metric_config"]
    rows = [
        {
            "run_id": child.run_id,
            "hyperparameters": hyperparameters(child),
            "status": child.status.value,
            "best_primary_metric": value,
        }
        for child, value in ranked_children(services, parent)
    ]
    best = next((r for r in rows if r["best_primary_metric"] is not None), None)
    return {
        "primary_metric": metric["name"],
        "goal": metric["goal"],
        "best_run": best,
        "children": rows,
    }
