"""Runs: create, read, status, tags and properties, metrics, and the run's files."""

from __future__ import annotations

import getpass
import posixpath
import re
import time
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._artifact_names import check_artifact_name
from runyard._entities import ExperimentInfo, MetricKind, MetricSeries, RunInfo, RunStatus
from runyard.exceptions import ArtifactNotFound, UserErrorException

if TYPE_CHECKING:
    from runyard._entities import MetricPoint
    from runyard._services import Services

EXPERIMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")
INTERACTIVE = "interactive"
_LOG_PREFIXES = ("azureml-logs/", "logs/", "user_logs/")


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


def run_key(run_id: str, name: str = "") -> str:
    """Artifact-store key of a run's file (or of the run's folder when name is empty)."""
    return f"runs/{run_id}/{name}"


# ---- experiments ---------------------------------------------------------------------------


def get_or_create_experiment(services: Services, name: str) -> ExperimentInfo:
    return services.store.get_or_create_experiment(check_experiment_name(name))


def list_experiments(services: Services, name: str | None = None) -> list[ExperimentInfo]:
    found = services.store.list_experiments()
    return [e for e in found if name is None or e.name == name]


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
    services.store.update_run(run_id, runtime={"submitted_by": _user()})
    return info


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def get_run(services: Services, run_id: str) -> RunInfo:
    return services.store.get_run(run_id)


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
    return services.store.list_runs(
        experiment_name=experiment_name,
        parent_run_id=parent_run_id,
        include_children=include_children,
        statuses=None if statuses is None else [_run_status(s) for s in statuses],
        tags=_filter_arg(tags),
        properties=_filter_arg(properties),
        run_type=run_type,
    )


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
    services: Services, run_id: str, status: RunStatus, *, error: Mapping[str, Any] | None = None
) -> RunInfo:
    info = services.store.set_run_status(run_id, status, error=error)
    assert info is not None  # no `expected` given: the store always answers
    return info


def error_from(error_details: Any, error_code: str | None) -> dict[str, Any]:
    """v1's fail(error_details, error_code) as the stored {"code", "message"} record."""
    if isinstance(error_details, BaseException):
        message = f"{type(error_details).__name__}: {error_details}"
    elif error_details is None:
        message = "The run was marked failed by run.fail()."
    else:
        message = str(error_details)
    return {"code": error_code or "UserError", "message": message}


# ---- details -------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def log_file_names(services: Services, run_id: str) -> list[str]:
    return [n for n in list_files(services, run_id) if n.startswith(_LOG_PREFIXES)]


def get_details(services: Services, run_id: str, *, with_logs: bool = False) -> dict[str, Any]:
    """v1's camelCase details dict."""
    info = services.store.get_run(run_id)
    log_files: dict[str, str] = {}
    for name in log_file_names(services, run_id):
        key = run_key(run_id, name)
        if with_logs:
            log_files[name] = services.artifacts.read_bytes(key).decode("utf-8", "replace")
        else:
            local = services.artifacts.local_path(key)
            log_files[name] = str(local) if local is not None else key
    details: dict[str, Any] = {
        "runId": info.run_id,
        "target": info.target,
        "status": info.status.value,
        "startTimeUtc": _iso(info.start_time),
        "endTimeUtc": _iso(info.end_time),
        "properties": dict(info.properties),
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": dict(info.definition),
        "logFiles": log_files,
        "submittedBy": info.runtime.get("submitted_by") or _user(),
        "warnings": [],
        "services": {},
    }
    if info.error and info.status in (RunStatus.FAILED, RunStatus.CANCELED):
        details["error"] = {"error": dict(info.error), "time": _iso(info.end_time)}
    return details


# ---- metrics -------------------------------------------------------------------------------


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


# ---- tags and properties -------------------------------------------------------------------


def _check_str_map(what: str, values: Any, *, allow_none: bool) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise UserErrorException(
            f"{what} must be a dict of str to str, got {type(values).__name__} ({values!r:.80})."
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise UserErrorException(f"{what} key {key!r} is not allowed: use a non-empty str.")
        if value is None and allow_none:
            out[key] = None
        elif isinstance(value, str | int | float | bool):
            out[key] = str(value)
        else:
            raise UserErrorException(
                f"{what} value for {key!r} is a {type(value).__name__} ({value!r:.80}); "
                "use a str (or a number, stored as its text)."
            )
    return out


def set_tags(services: Services, run_id: str, tags: Any) -> RunInfo:
    return services.store.set_tags(run_id, _check_str_map("Tag", tags, allow_none=True))


def remove_tags(services: Services, run_id: str, keys: Any) -> RunInfo:
    if isinstance(keys, str):
        keys = [keys]
    return services.store.remove_tags(run_id, list(keys))


def add_properties(services: Services, run_id: str, properties: Any) -> RunInfo:
    checked = _check_str_map("Property", properties, allow_none=False)
    return services.store.add_properties(run_id, checked)


# ---- files ---------------------------------------------------------------------------------


def list_files(services: Services, run_id: str) -> list[str]:
    prefix = run_key(run_id)
    return [k[len(prefix) :] for k in services.artifacts.list(prefix)]


def upload_file(services: Services, run_id: str, name: str, path_or_stream: Any) -> str:
    name = check_artifact_name(name)
    if hasattr(path_or_stream, "read"):
        data = path_or_stream.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        services.artifacts.put_bytes(run_key(run_id, name), data)
        return name
    src = _existing_file(path_or_stream)
    services.artifacts.put_file(run_key(run_id, name), src)
    return name


def _existing_file(path: Any) -> Path:
    if not isinstance(path, str | Path):
        raise UserErrorException(
            f"Expected a file path or a readable stream, got {type(path).__name__} ({path!r:.80})."
        )
    src = Path(path)
    if not src.is_file():
        raise UserErrorException(
            f"Local file {str(path)!r} does not exist or is not a file; pass the path of an "
            "existing file (relative paths are resolved from the current folder)."
        )
    return src


def upload_files(
    services: Services, run_id: str, names: Sequence[str], paths: Sequence[Any]
) -> list[str]:
    names, paths = list(names), list(paths)
    if len(names) != len(paths):
        raise UserErrorException(
            f"upload_files got {len(names)} names and {len(paths)} paths; pass one name per "
            "path (names and paths must have the same length)."
        )
    checked = [
        (check_artifact_name(n), _existing_file(p)) for n, p in zip(names, paths, strict=False)
    ]
    for name, src in checked:
        services.artifacts.put_file(run_key(run_id, name), src)
    return [n for n, _ in checked]


def upload_folder(services: Services, run_id: str, name: str, path: Any) -> list[str]:
    folder = Path(path)
    if not folder.is_dir():
        raise UserErrorException(
            f"Local folder {str(path)!r} does not exist or is not a folder; pass an existing "
            "folder to upload_folder (use upload_file for a single file)."
        )
    base = check_artifact_name(name)
    pairs = [
        (check_artifact_name(f"{base}/{f.relative_to(folder).as_posix()}"), f)
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    ]
    for artifact, src in pairs:
        services.artifacts.put_file(run_key(run_id, artifact), src)
    return [a for a, _ in pairs]


def download_file(services: Services, run_id: str, name: str, output_file_path: Any = None) -> Path:
    name = check_artifact_name(name)
    key = run_key(run_id, name)
    if not services.artifacts.exists(key):
        raise ArtifactNotFound(name, f"run {run_id!r}", list_files(services, run_id))
    dest = (
        Path(output_file_path) if output_file_path is not None else Path(posixpath.basename(name))
    )
    if dest.is_dir():
        dest = dest / posixpath.basename(name)
    services.artifacts.get_file(key, dest)
    return dest


def download_files(
    services: Services,
    run_id: str,
    *,
    prefix: str | None = None,
    output_directory: Any = None,
    output_paths: Sequence[Any] | None = None,
    append_prefix: bool = True,
) -> list[Path]:
    names = list_files(services, run_id)
    if prefix:
        norm = check_artifact_name(prefix)
        folder = prefix.endswith("/")
        matches = [
            n for n in names if n.startswith(norm + "/") or (not folder and n.startswith(norm))
        ]
    else:
        norm, matches = "", names
    if not matches:
        raise ArtifactNotFound(
            f"{prefix or ''}*", f"run {run_id!r} (no file matches the prefix)", names
        )
    if output_paths is not None:
        targets = [Path(p) for p in output_paths]
        if len(targets) != len(matches):
            raise UserErrorException(
                f"output_paths has {len(targets)} entries but {len(matches)} files match "
                f"prefix {prefix!r}: {matches[:20]}. Pass one path per file, or output_directory."
            )
    else:
        out = Path(output_directory) if output_directory is not None else Path(".")
        targets = [out / _local_name(n, norm, append_prefix) for n in matches]
    for name, dest in zip(matches, targets, strict=False):
        services.artifacts.get_file(run_key(run_id, name), dest)
    return targets


def _local_name(name: str, prefix: str, append_prefix: bool) -> str:
    if append_prefix or not prefix:
        return name
    if name == prefix:
        return posixpath.basename(name)
    if name.startswith(prefix + "/"):
        return name[len(prefix) + 1 :]
    # A partial name such as 'outputs/mod' for 'outputs/model.pkl': strip its folder.
    parent = posixpath.dirname(prefix)
    return name[len(parent) + 1 :] if parent else name


def read_file(services: Services, run_id: str, name: str) -> bytes:
    return services.artifacts.read_bytes(run_key(run_id, check_artifact_name(name)))


def iter_files(services: Services, run_id: str, prefix: str) -> Iterable[str]:
    norm = check_artifact_name(prefix)
    return (n for n in list_files(services, run_id) if n == norm or n.startswith(norm + "/"))
