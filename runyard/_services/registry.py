"""Model registry: register from a local path or a run's files, read, list, download."""

from __future__ import annotations

import posixpath
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._artifact_names import check_artifact_name
from runyard._entities import ModelVersion
from runyard._services import run_files
from runyard.exceptions import (
    InvalidModelRequest,
    ModelPathNotFoundException,
    WebserviceException,
)

if TYPE_CHECKING:
    from runyard._services import Services

MODEL_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$")


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not MODEL_NAME_RE.match(name):
        raise WebserviceException(
            f"Model name {name!r} is not valid: it must be 1 to 255 characters long, start "
            "with a letter or digit, and contain only letters, digits, '-', '.' and '_' "
            "(for example 'sklearn-mnist.v2')."
        )
    return name


def _check_meta(tags: Any, properties: Any) -> tuple[dict[str, Any], dict[str, str]]:
    def as_map(what: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise InvalidModelRequest(
                f"Model {what} must be a dict of str to str, got {type(value).__name__}."
            )
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise InvalidModelRequest(f"Model {what} key {k!r} must be a non-empty str.")
            out[k] = None if v is None and what == "tags" else str(v)
        return out

    return as_map("tags", tags), as_map("properties", properties)


def register_local(
    services: Services,
    *,
    model_path: Any,
    model_name: str,
    tags: Mapping[str, Any] | None = None,
    properties: Mapping[str, Any] | None = None,
    description: str | None = None,
    model_framework: str | None = None,
    model_framework_version: str | None = None,
    child_paths: Collection[str] | None = None,
) -> ModelVersion:
    """Copies the local file or folder to models/<uuid>/<basename>, then inserts the row."""
    check_model_name(model_name)
    tags_m, props_m = _check_meta(tags, properties)
    src = Path(model_path) if isinstance(model_path, str | Path) else None
    if src is None or not src.exists():
        raise InvalidModelRequest(
            f"Model path {model_path!r} does not exist. Model.register takes a local file or "
            "folder; to register a file of a run, use run.register_model(name, "
            "model_path='outputs/...')."
        )
    return _store_version(
        services,
        src.resolve().name,
        _local_files(src, child_paths),
        services.artifacts.put_file,
        name=model_name,
        tags=tags_m,
        properties=props_m,
        description=description,
        model_framework=model_framework,
        model_framework_version=model_framework_version,
    )


def _store_version(
    services: Services,
    base: str,
    files: Sequence[tuple[str | None, Any]],
    put: Callable[[str, Any], None],
    **fields: Any,
) -> ModelVersion:
    """Copies each (path inside the model, source) with ``put`` to models/<uuid>/<base>/...,
    then inserts the version row. Copy first, insert second: a failed insert leaves no
    orphan files, and no row ever points at missing files."""
    prefix = f"models/{uuid.uuid4().hex}"
    try:
        for rel, source in files:
            put(f"{prefix}/{base}" if rel is None else f"{prefix}/{base}/{rel}", source)
        return services.store.create_model_version(
            artifact_prefix=prefix, model_path=base, **fields
        )
    except BaseException:
        services.artifacts.delete_prefix(prefix + "/")
        raise


def _local_files(src: Path, child_paths: Collection[str] | None) -> list[tuple[str | None, Path]]:
    if src.is_file():
        return [(None, src)]
    files: list[tuple[str | None, Path]] = [
        (f.relative_to(src).as_posix(), f) for f in sorted(src.rglob("*")) if f.is_file()
    ]
    if child_paths is not None:
        wanted = {check_artifact_name(c) for c in child_paths}
        missing = sorted(wanted - {rel for rel, _ in files})
        if missing:
            raise InvalidModelRequest(
                f"child_paths {missing} are not files under {str(src)!r}; list paths relative "
                "to the model folder."
            )
        files = [(rel, f) for rel, f in files if rel in wanted]
    return files


def register_from_run(
    services: Services,
    run_id: str,
    *,
    model_name: str,
    model_path: str | None = None,
    tags: Mapping[str, Any] | None = None,
    properties: Mapping[str, Any] | None = None,
    description: str | None = None,
    model_framework: str | None = None,
    model_framework_version: str | None = None,
) -> ModelVersion:
    """model_path is a file or folder prefix among the run's files (default: model_name)."""
    check_model_name(model_name)
    tags_m, props_m = _check_meta(tags, properties)
    path = check_artifact_name(model_path if model_path is not None else model_name)
    info = services.store.get_run(run_id)
    names = run_files.list_files(services, run_id)
    matches: list[tuple[str | None, str]]
    if path in names:
        matches = [(None, path)]
    else:
        matches = [(n[len(path) + 1 :], n) for n in names if n.startswith(path + "/")]
    if not matches:
        raise ModelPathNotFoundException(
            f"Could not locate the provided model_path {path!r} in the set of files uploaded "
            f"to the run: {names}. See https://aka.ms/run-logging for more details; upload the "
            "file first (run.upload_file) or pass the path of one of these files."
        )
    return _store_version(
        services,
        posixpath.basename(path),
        matches,
        lambda key, name: services.artifacts.copy(run_files.run_key(run_id, name), key),
        name=model_name,
        tags=tags_m,
        properties=props_m,
        description=description,
        run_id=run_id,
        experiment_name=info.experiment_name,
        model_framework=model_framework,
        model_framework_version=model_framework_version,
    )


def get_model(services: Services, name: str, version: int | None = None) -> ModelVersion:
    return services.store.get_model(name, version)


def list_models(
    services: Services,
    *,
    name: str | None = None,
    tags: Any = None,
    properties: Any = None,
    run_id: str | None = None,
    latest: bool = False,
) -> list[ModelVersion]:
    return services.store.list_models(
        name=name,
        tags=_filters("tags", tags),
        properties=_filters("properties", properties),
        run_id=run_id,
        latest=latest,
    )


def _filters(what: str, value: Any) -> Any:
    """v1's list filter (keys, or [key, value] pairs) as the store's filter."""
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        return [value]
    out: dict[str, str | None] = {}
    for item in value:
        if isinstance(item, str):
            out[item] = None
        elif isinstance(item, list | tuple) and len(item) == 2:
            out[str(item[0])] = str(item[1])
        else:
            raise InvalidModelRequest(
                f"Model.list {what} filter item {item!r} is not valid: use a key 'k' or a "
                "pair ['k', 'v']."
            )
    return out


def model_files(services: Services, mv: ModelVersion) -> list[str]:
    """Keys of the version's files, relative to its artifact prefix."""
    prefix = mv.artifact_prefix + "/"
    return [k[len(prefix) :] for k in services.artifacts.list(prefix)]


def download_model(
    services: Services,
    mv: ModelVersion,
    target_dir: Any,
    exist_ok: bool,
    *,
    spelling: tuple[str, str] = ("exist_ok=True", "target_dir"),
) -> Path:
    """Copies the version to <target_dir>/<registered basename>; returns that path.
    ``spelling``: how the caller spells the overwrite switch and the target (the CLI's
    ``--exist-ok`` / ``--target-dir``), for the clash message."""
    target = Path(target_dir)
    rels = model_files(services, mv)
    dests = [(rel, target / rel) for rel in rels]
    if not exist_ok:
        clashes = [str(d) for _, d in dests if d.exists()]
        if clashes:
            raise InvalidModelRequest(
                f"Model {mv.id} cannot be downloaded to {str(target)!r}: these files already "
                f"exist: {clashes[:20]}. Pass {spelling[0]} to overwrite them, or pick another "
                f"{spelling[1]}."
            )
    for rel, dest in dests:
        services.artifacts.get_file(f"{mv.artifact_prefix}/{rel}", dest)
    return target / mv.model_path


def delete_model(services: Services, mv: ModelVersion) -> None:
    services.store.delete_model(mv.name, mv.version)
    services.artifacts.delete_prefix(mv.artifact_prefix + "/")


def update_model(
    services: Services,
    mv: ModelVersion,
    *,
    description: str | None = None,
    add_tags: Any = None,
    remove_tags: Any = None,
    add_properties: Any = None,
) -> ModelVersion:
    tags_m, props_m = _check_meta(add_tags, add_properties)
    return services.store.update_model(
        mv.name,
        mv.version,
        description=description,
        add_tags=tags_m or None,
        remove_tags=list(remove_tags) if remove_tags else None,
        add_properties=props_m or None,
    )
