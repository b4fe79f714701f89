"""A job's ./logs and ./outputs into the run's files, by the agent (live and at the end);
its output datasets into their datastores at the end.

Only what lies inside the folder is uploaded: a symbolic link out of it (``x -> /etc/passwd``,
``d -> /etc``) is left out and named once in the driver log, where the user looks. These
uploads replace a name the run has (./logs is uploaded again each time a file changes);
the user-facing ``run.upload_file`` refuses one (``run_files``).
"""

from __future__ import annotations

import glob
import logging
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard._artifact_names import check_artifact_name
from runyard._entities import DatastoreInfo, RunError, RunStatus
from runyard._services import Services, datastores
from runyard._services.datastores import clean_relative, ensure_default_datastore, get_datastore
from runyard._services.driver_log import append_driver_log
from runyard._services.run_files import FolderFiles, folder_files, link_problem
from runyard.exceptions import InvalidArtifactName, RunyardError, UserErrorException

log = logging.getLogger(__name__)

_REPORTED = (-1, -1)  # the stamp in ``seen`` of a link already named in the driver log


def upload_changed(
    services: Services, run_id: str, folder: Path, prefix: str, seen: dict[str, tuple[int, int]]
) -> None:
    """Uploads files of ``folder`` whose (mtime, size) changed since ``seen``; the links it
    cannot follow are named in the driver log (once per ``seen``)."""
    if folder.is_symlink():
        why = link_problem(folder, Path(os.path.realpath(folder.parent)))
        if why is not None:
            _report(services, run_id, seen, [("", f"is a symbolic link that {why}")], prefix)
            return
    if not folder.is_dir():
        return
    found = folder_files(folder)
    for rel, path in found.files:
        try:
            st = path.stat()
        except FileNotFoundError:  # removed by the job since the walk
            continue
        stamp = (st.st_mtime_ns, st.st_size)
        if seen.get(rel) == stamp:
            continue
        try:
            name = check_artifact_name(f"{prefix}/{rel}")
        except InvalidArtifactName as exc:
            log.warning("run %s: not uploading %s: %s", run_id, path, exc)
            continue
        try:
            services.artifacts.put_file(f"runs/{run_id}/{name}", path)
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            found.skipped.append((rel, f"is a file that cannot be read ({exc.strerror})"))
            continue
        seen[rel] = stamp
    _report(services, run_id, seen, found.skipped, prefix)


def _report(
    services: Services,
    run_id: str,
    seen: dict[str, tuple[int, int]],
    skipped: list[tuple[str, str]],
    prefix: str,
) -> None:
    new = [(rel, why) for rel, why in skipped if seen.get(rel) != _REPORTED]
    if not new:
        return
    lines = []
    for rel, why in new:
        seen[rel] = _REPORTED
        shown = f"./{prefix}/{rel}" if rel else f"./{prefix}"
        lines.append(
            f"Runyard: not uploading {shown}: it {why}. Only what lies inside ./{prefix} and "
            "can be read is uploaded; copy the file there instead of linking it."
        )
    for line in lines:
        log.warning("run %s: %s", run_id, line)
    append_driver_log(services, run_id, *lines)


# ---- output datasets (OutputFileDatasetConfig) -----------------------------------------
# A run definition's ``data`` entry for an output, made by OutputFileDatasetConfig:
# {"direction": "output", "mode": "upload" | "mount", "source": relative folder | None,
#  "destination": {"datastore": name | None (the default), "path": template},
#  "overwrite": bool, "source_globs": [glob, ...] | None,
#  "registration": {"name", "description", "tags"} | None,
#  "tabular": {"reader": {...}, "path_glob": glob | None, "transforms": [...]} | None,
#  "partition_format": str | None}
OUTPUT_ROOT = "output_datasets"  # an output's folder without source: <wd>/output_datasets/<name>
OUTPUT_FAILED = "DatasetOutputFailed"  # the run's error code when an output cannot be kept


def dataset_outputs(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The run definition's output datasets ({name: data entry})."""
    data = definition.get("data") or {}
    return {n: e for n, e in data.items() if e.get("direction") == "output"}


def output_folder(workdir: Path, name: str, entry: Mapping[str, Any]) -> Path:
    """Where the job writes the output: ``source`` under the working copy, or its own."""
    source = entry.get("source")
    rel = clean_relative(source, what="source") if source else f"{OUTPUT_ROOT}/{name}"
    return workdir / rel


def output_datastore(services: Services, entry: Mapping[str, Any]) -> DatastoreInfo:
    """The output's datastore: the destination's, or the workspace's default."""
    store = (entry.get("destination") or {}).get("datastore")
    return get_datastore(services, store) if store else ensure_default_datastore(services)


def destination_path(entry: Mapping[str, Any], run_id: str, name: str) -> str:
    """The destination folder with v1's placeholders {run-id} and {output-name} filled."""
    template = str((entry.get("destination") or {}).get("path") or datastores.DEFAULT_OUTPUT_PATH)
    path = template.replace("{run-id}", run_id).replace("{output-name}", name)
    return clean_relative(path, what="destination path")


@dataclass(frozen=True, slots=True)
class _Upload:
    name: str
    entry: Mapping[str, Any]
    store: DatastoreInfo
    path: str  # on the datastore
    files: list[tuple[Path, str]]  # (local file, target relative to the datastore root)


def finish_outputs(
    services: Services,
    run_id: str,
    definition: Mapping[str, Any],
    workdir: Path,
    final: RunStatus,
    error: RunError | None,
) -> tuple[RunStatus, RunError | None]:
    """The run's end for its output datasets: returns the run's (status, error), Failed
    when an output of a Completed run cannot be uploaded or registered.

    As v1: an ``as_upload()`` output is uploaded only when the run Completed; an
    ``as_mount()`` one (the default) always, as v1's mounted folder keeps what the job
    wrote; ``register_on_complete`` registers only a Completed run's output. Every
    output is checked before anything is uploaded, and registered after all uploaded."""
    outputs = dataset_outputs(definition)
    if not outputs:
        return final, error
    completed = final is RunStatus.COMPLETED
    lines: list[str] = []
    try:
        plans = [
            _plan(services, run_id, name, entry, workdir, lines)
            for name, entry in outputs.items()
            if completed or entry.get("mode") != "upload"
        ]
        if not completed and len(plans) < len(outputs):
            lines.append(
                "Runyard: as_upload() outputs were not uploaded: the run did not complete "
                "(as_mount() outputs keep what the job wrote)."
            )
        for plan in plans:
            if not plan.files and not completed:
                continue  # a run that failed before writing anything: nothing to say
            datastores.upload_files(plan.store, plan.files, overwrite=True, show_progress=False)
            lines.append(
                f"Runyard: output {plan.name!r}: {len(plan.files)} file(s) uploaded to "
                f"datastore {plan.store.name!r} at {plan.path!r}."
            )
        for plan in plans if completed else []:
            lines.extend(_register(services, plan))
    except (RunyardError, OSError) as exc:  # OSError: the datastore's disk is full ...
        message = f"Output datasets: {exc}"
        lines.append(f"Runyard: {message}")
        if completed:
            final, error = RunStatus.FAILED, RunError(OUTPUT_FAILED, message)
    append_driver_log(services, run_id, *lines)
    return final, error


def _plan(
    services: Services,
    run_id: str,
    name: str,
    entry: Mapping[str, Any],
    workdir: Path,
    lines: list[str],
) -> _Upload:
    store = output_datastore(services, entry)
    path = destination_path(entry, run_id, name)
    folder = output_folder(workdir, name, entry)
    found = folder_files(folder) if folder.is_dir() else FolderFiles([], [])
    files = found.files
    globs = entry.get("source_globs")
    if globs:
        wanted = {
            Path(match).as_posix()
            for pattern in globs
            for match in glob.glob(pattern, root_dir=folder, recursive=True)
        }
        files = [(rel, p) for rel, p in files if rel in wanted]
    for rel, why in found.skipped:
        lines.append(f"Runyard: output {name!r}: not uploading {rel}: it {why}.")
    targets = [(p, posixpath.join(path, rel)) for rel, p in files]
    if entry.get("mode") == "upload" and not entry.get("overwrite"):
        fs, root = datastores.filesystem(store)
        existing = [t for _, t in targets if fs.exists(posixpath.join(root, t))]
        if existing:
            raise UserErrorException(
                f"output {name!r} was not uploaded: {len(existing)} file(s) already exist in "
                f"datastore {store.name!r} (first: {existing[0]!r}). Pass "
                "as_upload(overwrite=True), or a destination path with {run-id} in it."
            )
    return _Upload(name, entry, store, path, targets)


def _register(services: Services, plan: _Upload) -> list[str]:
    registration = plan.entry.get("registration")
    if not registration:
        return []
    location = {"datastore": plan.store.name, "path": plan.path}
    tabular = plan.entry.get("tabular")
    definition: dict[str, Any]
    if tabular:
        glob_part = tabular.get("path_glob")
        if glob_part:
            location["path"] = posixpath.join(plan.path, str(glob_part).lstrip("/"))
        definition = {
            "type": "Tabular",
            "paths": [location],
            "partition_format": plan.entry.get("partition_format"),
            "reader": tabular["reader"],
        }
        if tabular.get("transforms"):
            definition["transforms"] = tabular["transforms"]
    else:
        definition = {
            "type": "File",
            "paths": [location],
            "partition_format": plan.entry.get("partition_format"),
            "is_file": False,
        }
    info = services.store.register_dataset(
        name=registration["name"],
        definition=definition,
        description=registration.get("description"),
        tags=registration.get("tags"),
        create_new_version=True,
    )
    kind = definition["type"]
    return [
        f"Runyard: output {plan.name!r} registered as {kind} dataset {info.name!r} "
        f"version {info.version}."
    ]
