"""v1's ``script_params`` -> argv rules, and how data objects appear in argv.

Datasets are built in ``runyard.core`` and datastores elsewhere, so data objects are
recognised by their v1 class names and attributes, not by isinstance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runyard.core._script_args import (
    DATASET_TOKEN,
    is_dataset_consumption,
    plain_scalar,
)
from runyard.exceptions import UserErrorException

OUTPUT_TOKEN = "DatasetOutputConfig:{}"
_RAW_DATASET_CLASSES = ("Dataset", "FileDataset", "TabularDataset", "AbstractDataset")


def is_output_dataset(value: object) -> bool:
    return type(value).__name__ in ("OutputFileDatasetConfig", "OutputDatasetConfig")


def _check_not_raw_dataset(key: object, value: object) -> None:
    if type(value).__name__ in _RAW_DATASET_CLASSES:
        raise UserErrorException(
            f"script_params[{key!r}] is a {type(value).__name__}; a dataset needs a name for "
            "the run. Pass ds.as_named_input('<name>').as_mount() or .as_download() instead."
        )


def flatten_script_params(script_params: Mapping[Any, Any] | None) -> list[Any]:
    """``{k1: v1, k2: [a, b]}`` -> ``[k1, v1, k2, a, b]``, dropping None and ''.

    Values keep their types (v1 does not stringify them); data objects are kept as they
    are, so a ScriptRunConfig can still see and materialize them.
    """
    if not script_params:
        return []
    if not isinstance(script_params, Mapping):
        raise UserErrorException(
            f"script_params must be a dict such as {{'--epochs': 10}}, "
            f"not {type(script_params).__name__}."
        )
    items: list[Any] = []
    for key, value in script_params.items():
        items.append(key)
        values: Iterable[Any] = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            _check_not_raw_dataset(key, item)
            items.append(plain_scalar(item))
    # 0 and False are real values; only None and '' mean "flag without a value".
    return [
        item for item in items if item is not None and not (isinstance(item, str) and item == "")
    ]


def argv_token(value: Any) -> Any:
    """What one argv item looks like in the run definition (v1's tokens for data)."""
    if is_dataset_consumption(value):
        return DATASET_TOKEN.format(value.name)
    if is_output_dataset(value):
        return OUTPUT_TOKEN.format(value.name)
    if type(value).__name__ == "DataReference":
        return str(value)
    return value


def script_params_to_argv(script_params: Mapping[Any, Any] | None) -> list[Any]:
    """v1's argv for ``script_params``, with data objects replaced by their tokens."""
    return [argv_token(item) for item in flatten_script_params(script_params)]


def dataset_inputs(items: Iterable[Any]) -> list[Any]:
    """The dataset consumption objects among argv items or ``inputs``, in order, unique by name."""
    found: dict[str, Any] = {}
    for item in items:
        if is_dataset_consumption(item) and item.name not in found:
            found[item.name] = item
    return list(found.values())
