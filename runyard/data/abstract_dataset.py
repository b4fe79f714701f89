"""What FileDataset and TabularDataset share: identity, paths, record transforms, registration."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from runyard._services import datasets
from runyard.data import _transforms
from runyard.data.datapath import DataPath
from runyard.data.dataset_consumption_config import DatasetConsumptionConfig
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._entities import DatasetInfo
    from runyard._services import Services
    from runyard.core.workspace import Workspace

D = TypeVar("D", bound="AbstractDataset")


def path_entries(path: Any) -> tuple[list[dict[str, str]], Workspace | None]:
    """A from_files/from_delimited_files ``path`` argument as definition entries, plus the
    workspace its datastores belong to (None when all paths are local or URLs)."""
    # late: cycle data -> core.datastore -> data.data_reference -> data.dataset_factory -> here
    from runyard.core.datastore import Datastore

    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException("path=[] names no files; pass at least one path.")
    entries: list[dict[str, str]] = []
    workspace = None
    for item in items:
        if isinstance(item, DataPath) and item.datastore is not None:
            item = (item.datastore, item.path_on_datastore)
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Datastore):
            workspace = item[0].workspace
            entries.append({"datastore": item[0].name, "path": str(item[1] or "").strip("/")})
        elif isinstance(item, str | os.PathLike):
            text = os.fspath(item)
            if "://" in text:
                entries.append({"url": text})
            else:
                entries.append({"url": "file://" + Path(text).expanduser().absolute().as_posix()})
        else:
            raise UserErrorException(
                f"Dataset path {item!r} is not supported. Pass a (datastore, 'folder/**') "
                "tuple, a DataPath, a local path or URL string, or a list of these."
            )
    return entries, workspace


class AbstractDataset:
    """Base of FileDataset and TabularDataset (v1: azureml.data.abstract_dataset)."""

    _TYPE = ""

    def __init__(
        self,
        definition: Mapping[str, Any],
        *,
        workspace: Workspace | None = None,
        info: DatasetInfo | None = None,
    ) -> None:
        self._def = dict(definition)
        self._workspace = workspace
        self._info = info

    @classmethod
    def _from_info(cls, workspace: Workspace, info: DatasetInfo) -> AbstractDataset:
        # late: cycle AbstractDataset -> its subclasses, whose modules import this one
        from runyard.data import file_dataset, tabular_dataset

        is_file = info.definition.get("type") == "File"
        kind = file_dataset.FileDataset if is_file else tabular_dataset.TabularDataset
        return kind(info.definition, workspace=workspace, info=info)

    # ---- identity ----------------------------------------------------------------------
    @property
    def id(self) -> str | None:
        return self._info.id if self._info else None

    @property
    def name(self) -> str | None:
        return self._info.name if self._info else None

    @property
    def version(self) -> int | None:
        return self._info.version if self._info else None

    @property
    def description(self) -> str | None:
        return self._info.description if self._info else None

    @property
    def tags(self) -> dict[str, str | None]:
        return dict(self._info.tags) if self._info else {}

    def _definition(self) -> dict[str, Any]:
        return copy.deepcopy(self._def)

    def _services(self) -> Services | None:
        return self._workspace._services if self._workspace is not None else None

    def _files(self, *, strict: bool = False) -> list[Any]:
        return datasets.resolve_files(self._def, self._services(), strict=strict)

    def _with_transform(self: D, transform: Mapping[str, Any]) -> D:
        """A new, unregistered dataset of the same kind: these records, then ``transform``
        (v1's transforms are lazy: nothing is read until the data is)."""
        definition = self._definition()
        definition["transforms"] = [*definition.get("transforms", []), dict(transform)]
        return type(self)(definition, workspace=self._workspace)

    # ---- use ---------------------------------------------------------------------------
    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        """This dataset as a named run input (then ``.as_mount()`` / ``.as_download()``).

        Args:
            name: The input's name in the job (``run.input_datasets[name]``).
        """
        return DatasetConsumptionConfig(name, self)

    # ---- record transforms (lazy: new, unregistered datasets) -------------------------
    # The records are a FileDataset's files (in path order) or a TabularDataset's rows.
    def skip(self: D, count: int) -> D:
        """The records after the first ``count``.

        Raises:
            UserErrorException: count is not a whole number >= 0.
        """
        return self._with_transform(_transforms.count_transform("skip", count))

    def take(self: D, count: int) -> D:
        """The first ``count`` records.

        Raises:
            UserErrorException: count is not a whole number >= 0.
        """
        return self._with_transform(_transforms.count_transform("take", count))

    def take_sample(self: D, probability: float, seed: int | None = None) -> D:
        """A random sample: each record is kept with ``probability``.

        Args:
            probability: From 0.0 to 1.0.
            seed: The random generator's seed (None: one is drawn now and kept, so the
                sample is the same wherever it is read, in a job too).

        Raises:
            UserErrorException: probability outside 0.0-1.0, or a seed that is not an int.
        """
        return self._with_transform(_transforms.sample_transform(probability, seed))

    def random_split(self: D, percentage: float, seed: int | None = None) -> tuple[D, D]:
        """Two datasets: about ``percentage`` of the records, and all the others.

        Args:
            percentage: From 0.0 to 1.0.
            seed: As for take_sample; both parts use it, so every record is in exactly one.

        Raises:
            UserErrorException: percentage outside 0.0-1.0, or a seed that is not an int.
        """
        first, second = _transforms.split_transforms(percentage, seed)
        return self._with_transform(first), self._with_transform(second)

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        create_new_version: bool = False,
    ) -> AbstractDataset:
        """Registers the dataset under ``name``.

        Args:
            workspace: The workspace.
            name: The registered name.
            description: Free text.
            tags: Key/value tags.
            create_new_version: Register a new version when the name exists.

        Returns:
            The registered dataset, with id, name and version set.

        Raises:
            DatasetExists: The name holds another definition and create_new_version is
                False (an identical one returns the existing registration).
        """
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException(f"Dataset name {name!r} is empty; pass a name.")
        info = datasets.register_dataset(
            workspace._services,
            self._def,
            name=name,
            description=description,
            tags=tags,
            create_new_version=create_new_version,
        )
        return type(self)(info.definition, workspace=workspace, info=info)

    def __repr__(self) -> str:
        which = f"name={self.name!r}, version={self.version}" if self._info else "unregistered"
        if "from_tabular" in self._def:
            where = f"{self._def.get('format')} files of a TabularDataset"
        else:
            where = f"paths={self._def.get('paths')}"
        steps = [t.get("op") for t in self._def.get("transforms", [])]
        return f"{type(self).__name__}({which}, {where}" + (f", then {steps})" if steps else ")")
