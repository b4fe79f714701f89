"""Script arguments as a run stores them: argv strings, with datasets as v1's tokens, and
the run's ``data`` entries. Shared by ScriptRunConfig and the estimators (runyard.train).

Data objects are recognised by their v1 class names and attributes, not by isinstance,
so this module needs neither runyard.data nor the legacy DataReference.
"""

from __future__ import annotations

import os
from typing import Any

from runyard.exceptions import UserErrorException

DATASET_TOKEN = "DatasetConsumptionConfig:{}"
OUTPUT_TOKEN = "DatasetOutputConfig:{}"


def is_dataset_consumption(value: object) -> bool:
    """A ``ds.as_named_input(name)[.as_mount()|.as_download()]`` object."""
    if type(value).__name__ == "DatasetConsumptionConfig":
        return True
    return (
        isinstance(getattr(value, "name", None), str)
        and isinstance(getattr(value, "mode", None), str)
        and hasattr(value, "dataset")
    )


def is_output_dataset(value: object) -> bool:
    """An ``OutputFileDatasetConfig`` (or its ``read_delimited_files()`` form)."""
    return isinstance(getattr(value, "name", None), str) and hasattr(value, "_to_run_output")


def plain_scalar(value: Any) -> Any:
    """A numpy scalar (``np.int64(5)``, ``np.float32(0.5)``, ``np.bool_``) as the Python
    value it holds, so it reaches argv as ``5``; anything else as it is."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def as_run_input(value: Any) -> Any:
    """A legacy DataReference (``datastore.path('x').as_mount()``) as the dataset input
    the job materializes; anything else as it is."""
    if type(value).__name__ == "DataReference" and hasattr(value, "_as_dataset_input"):
        return value._as_dataset_input()
    return value


def arguments_and_data(
    arguments: list[Any], inputs: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """argv as stored (datasets as v1's ``DatasetConsumptionConfig:<name>`` tokens, output
    datasets as ``DatasetOutputConfig:<name>``) and the run's ``data`` entries: datasets
    and outputs in arguments first, then run_config.data."""
    argv: list[str] = []
    data: dict[str, Any] = {}
    for raw in arguments:
        value = plain_scalar(as_run_input(raw))
        if is_dataset_consumption(value):
            _add(data, value.name, value._to_run_data())
            argv.append(DATASET_TOKEN.format(value.name))
        elif is_output_dataset(value):
            _add(data, value.name, value._to_run_output())
            argv.append(OUTPUT_TOKEN.format(value.name))
        else:
            argv.append(_argument(value))
    for name, value in (inputs or {}).items():
        if not is_dataset_consumption(value):
            raise UserErrorException(
                f"run_config.data[{name!r}] is a {type(value).__name__}; pass "
                "ds.as_named_input(name).as_mount() or .as_download()."
            )
        _add(data, value.name, value._to_run_data())
    return argv, data


def _add(data: dict[str, Any], name: str, entry: dict[str, Any]) -> None:
    """One input or output; the same name twice must mean the same thing (the job sees
    each name as one environment variable)."""
    if name in data and data[name] != entry:
        raise UserErrorException(
            f"Two different run inputs or outputs are named {name!r}; the job sees each "
            "name as one environment variable. Give them different names, e.g. "
            "ds.as_named_input('train') and OutputFileDatasetConfig(name='prepared')."
        )
    data[name] = entry


def _argument(value: Any) -> str:
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise UserErrorException(
        f"Script argument {value!r} ({type(value).__name__}) is not supported; pass str, "
        "numbers, a dataset as ds.as_named_input('name').as_mount() / .as_download(), or "
        "an OutputFileDatasetConfig."
    )
