"""A run's metrics: logging them from an interactive run, reading them in v1's shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runyard._entities import MetricKind, MetricSeries
from runyard._services.run_files import run_key
from runyard._services.runs import list_descendants
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._entities import MetricPoint
    from runyard._services import Services


def log_metrics(services: Services, run_id: str, points: Sequence[MetricPoint]) -> None:
    """Interactive runs: straight to the store (points were checked by the caller)."""
    if points:
        services.store.log_metrics(run_id, points)


def image_location(run_id: str, artifact_name: str) -> str:
    return f"aml://artifactId/ExperimentRun/dcid.{run_id}/{artifact_name}"


def get_metrics(
    services: Services,
    run_id: str,
    *,
    name: str | None = None,
    recursive: bool = False,
    run_type: str | None = None,
    populate: bool = False,
) -> dict[str, Any]:
    """v1's shapes; recursive gives {run_id: {name: value}} for the run and descendants
    (run_type filters the descendants only, as in v1)."""
    if name is not None and not isinstance(name, str):
        raise UserErrorException(
            f"get_metrics(name={name!r}) takes one metric name (a str), or None for all "
            "metrics; to read several, call get_metrics() and pick the names from its dict."
        )
    if not recursive:
        return _shaped_metrics(services, run_id, name, populate)
    services.store.get_run(run_id)  # RunNotFound for a missing run, as without recursive
    descendants = list_descendants(services, run_id)
    ids = [run_id, *(r.run_id for r in descendants if run_type in (None, r.run_type))]
    return {i: _shaped_metrics(services, i, name, populate) for i in ids}


def _shaped_metrics(
    services: Services, run_id: str, name: str | None, populate: bool
) -> dict[str, Any]:
    series = services.store.get_metrics(run_id, None if name is None else [name])
    return {n: _shape(services, run_id, s, populate) for n, s in series.items()}


def _shape(services: Services, run_id: str, series: MetricSeries, populate: bool) -> Any:
    values = series.values
    if series.kind is MetricKind.TABLE:
        if len(values) == 1:
            return dict(values[0])
        columns: dict[str, list[Any]] = {}
        for row in values:
            for col in row:
                columns.setdefault(col, [])
        for row in values:
            for col, out in columns.items():
                out.append(row.get(col))
        return columns
    if series.kind is MetricKind.IMAGE:
        if populate:
            values = [services.artifacts.read_bytes(run_key(run_id, v)) for v in values]
        else:
            values = [image_location(run_id, v) for v in values]
    return values[0] if len(values) == 1 else list(values)
