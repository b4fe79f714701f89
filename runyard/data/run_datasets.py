"""A submitted job's datasets, as ``run.input_datasets`` and ``run.output_datasets`` give
them (v1: azureml.core.run.InputDatasets / OutputDatasets).

Job side: standard library only until a dataset is read. A mounted or downloaded input is
its local path; a direct input (``ds.as_named_input('x')``) is a dataset object over the
local copy the agent made, read from ``jobs/<run_id>/inputs/<name>.dataset.json``; an
output is the local folder to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._config import WorkspaceLayout
from runyard._entities import DatasetInfo
from runyard._services.datasets import read_direct_input
from runyard.data.abstract_dataset import AbstractDataset
from runyard.data.file_dataset import FileDataset
from runyard.data.tabular_dataset import TabularDataset

_DIRECT = "direct"


def _inputs_dir(environ: Mapping[str, str]) -> Path | None:
    root, run_id = environ.get(_jobenv.WORKSPACE_DIR), environ.get(_jobenv.RUN_ID)
    if not root or not run_id:
        return None
    return WorkspaceLayout(Path(root)).jobs_dir / run_id / "inputs"


def _modes(environ: Mapping[str, str]) -> dict[str, str]:
    modes = {}
    for item in environ.get(_jobenv.DATASET_ENVIRONMENT_VARS, "").split(","):
        name, _, mode = item.rpartition(":")
        if name:
            modes[name] = mode
    return modes


def _direct_dataset(inputs_dir: Path, name: str) -> AbstractDataset | None:
    record = read_direct_input(inputs_dir, name)
    if record is None:
        return None
    definition = record["definition"]
    info = DatasetInfo(
        id=record["id"],
        name=record.get("name"),
        version=record.get("version"),
        definition=definition,
        description=None,
        tags={},
        created_time=datetime.now(timezone.utc),
    )
    kind = TabularDataset if definition.get("type") == "Tabular" else FileDataset
    return kind(definition, info=info)


def input_datasets(environ: Mapping[str, str]) -> dict[str, Any]:
    """{name: local path, or the dataset object of a direct input}."""
    found: dict[str, Any] = dict(_jobenv.input_datasets(environ))
    inputs_dir = _inputs_dir(environ)
    if inputs_dir is None:
        return found
    for name, mode in _modes(environ).items():
        if mode == _DIRECT and name in found:
            dataset = _direct_dataset(inputs_dir, name)
            if dataset is not None:
                found[name] = dataset
    return found


def output_datasets(environ: Mapping[str, str]) -> dict[str, str]:
    """{name: the local folder the job writes the output to}."""
    return _jobenv.output_datasets(environ)


def direct_input_by_id(environ: Mapping[str, str], dataset_id: str) -> AbstractDataset | None:
    """The job's direct input whose id is ``dataset_id`` (v1 passes a direct input to the
    script as its id, for ``Dataset.get_by_id(ws, id)``), or None."""
    for value in input_datasets(environ).values():
        if isinstance(value, AbstractDataset) and value.id == dataset_id:
            return value
    return None
