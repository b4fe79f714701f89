"""Datasets: the files a definition means (its paths, a converted table, then its
transforms), copying them, a run's inputs, registering.

The paths and their layout are ``dataset_files``; tables are ``dataset_tables``; the
transforms (skip, take, samples, splits) are ``dataset_transforms``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._entities import DatasetInfo
from runyard._services.dataset_files import DatasetFile, list_files, names_one_file
from runyard._services.dataset_tables import table_files
from runyard._services.dataset_transforms import select_records
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services

# Beside a direct input's local copy: its definition over that copy, for the job's
# run.input_datasets (a dataset object) and Dataset.get_by_id (inputs/<name> + this).
DIRECT_INPUT_SUFFIX = ".dataset.json"


def resolve_files(
    definition: Mapping[str, Any], services: Services | None = None, *, strict: bool = False
) -> list[DatasetFile]:
    """Every file of the dataset, with its path relative to the dataset's root: the
    definition's paths (or the converted table's file), then a FileDataset's transforms.

    strict: raise DatasetPathNotFound naming each path entry that matches nothing."""
    if "from_tabular" in definition:
        files = table_files(definition, services)
    else:
        files = list_files(definition, services, strict=strict)
    if definition.get("type") == "File":
        files = select_records(files, definition.get("transforms") or [])
    return files


def copy_files(
    files: list[DatasetFile], dest: Path, *, overwrite: bool, read_only: bool = False
) -> list[Path]:
    """Copies the files under dest keeping their relative paths; checks before writing."""
    targets = [dest / f.relative for f in files]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise UserErrorException(
            f"{len(existing)} file(s) already exist under {str(dest)!r} (first: "
            f"{existing[0]!r}); pass overwrite=True or choose an empty target_path."
        )
    for file, target in zip(files, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        file.fs.get_file(file.path, str(target))
    if read_only:
        make_read_only(dest)
    return targets


def make_read_only(folder: Path) -> None:
    """Files 0444, folders 0555: a job that does not run as root cannot change them."""
    for root, _dirs, names in os.walk(folder):
        for name in names:
            os.chmod(os.path.join(root, name), 0o444)
    for root, dirs, _names in os.walk(folder, topdown=False):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o555)
    os.chmod(folder, 0o555)


def remove_materialized(folder: Path) -> None:
    """Deletes a folder made by materialize_input, read-only parts included."""
    if not folder.exists():
        return
    for root, dirs, _names in os.walk(folder):
        os.chmod(root, stat.S_IRWXU)
        for name in dirs:
            os.chmod(os.path.join(root, name), stat.S_IRWXU)
    shutil.rmtree(folder)


def materialize_input(services: Services, entry: Mapping[str, Any], dest: Path) -> Path:
    """Makes one run input's files available under ``dest`` and returns the path the job
    gets: ``dest``, or the file itself when the dataset is one path naming one file (v1).

    ``entry`` is one value of a run definition's ``data`` (see
    DatasetConsumptionConfig._to_run_data). "download" (and "direct") leaves a plain copy.
    "mount" leaves a read-only copy: files 0444 and folders 0555, so a job running as an
    ordinary user cannot write there; a job running as root can (permission bits do not
    bind root), but it only ever changes its own copy, never the datastore. Remove the
    folder with remove_materialized (plain rmtree fails on the read-only folders).
    """
    mode = entry.get("mode", "mount")
    if mode not in ("mount", "download", "direct"):
        raise UserErrorException(
            f"Dataset input mode {mode!r} is not supported; use as_mount() or as_download()."
        )
    definition = entry["dataset"]
    files = resolve_files(definition, services)
    dest.mkdir(parents=True, exist_ok=True)
    copy_files(files, dest, overwrite=True, read_only=(mode == "mount"))
    if mode != "direct" and names_one_file(definition, files, services):
        return dest / files[0].relative
    return dest


def dataset_inputs(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The run definition's dataset inputs ({name: data entry}), outputs left out."""
    data = definition.get("data") or {}
    return {n: e for n, e in data.items() if e.get("direction", "input") == "input"}


def write_direct_input(entry: Mapping[str, Any], copy: Path, inputs_dir: Path, name: str) -> str:
    """Writes a direct input's definition over its local copy beside it; returns the id
    the job sees (v1 passes a direct input as its dataset's id). An unregistered dataset
    gets one for this run only."""
    original = entry["dataset"]
    local: dict[str, Any] = {"type": original.get("type", "File")}
    local["paths"] = [{"url": "file://" + copy.as_posix()}]
    if local["type"] == "Tabular":  # its row transforms apply when the job reads it
        for key in ("reader", "transforms", "partition_format"):
            if key in original:
                local[key] = original[key]
    dataset_id = str(entry.get("dataset_id") or f"run-input-{uuid.uuid4()}")
    record = {
        "id": dataset_id,
        "name": entry.get("dataset_name"),
        "version": entry.get("dataset_version"),
        "definition": local,
    }
    target = inputs_dir / f"{name}{DIRECT_INPUT_SUFFIX}"
    target.write_text(json.dumps(record), encoding="utf-8")
    return dataset_id


def read_direct_input(inputs_dir: Path, name: str) -> dict[str, Any] | None:
    """What write_direct_input wrote for ``name``, or None (not a direct input)."""
    try:
        text = (inputs_dir / f"{name}{DIRECT_INPUT_SUFFIX}").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    record: dict[str, Any] = json.loads(text)
    return record


# ---- registry ---------------------------------------------------------------------------
def register_dataset(
    services: Services,
    definition: Mapping[str, Any],
    *,
    name: str,
    description: str | None,
    tags: Mapping[str, str | None] | None,
    create_new_version: bool,
) -> DatasetInfo:
    return services.store.register_dataset(
        name=name,
        definition=definition,
        description=description,
        tags=tags,
        create_new_version=create_new_version,
    )


def get_dataset(services: Services, name: str, version: int | None = None) -> DatasetInfo:
    return services.store.get_dataset(name, version)


def get_dataset_by_id(services: Services, dataset_id: str) -> DatasetInfo:
    return services.store.get_dataset_by_id(dataset_id)


def list_datasets(services: Services) -> list[DatasetInfo]:
    return services.store.list_datasets()
