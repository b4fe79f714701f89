"""``Dataset``: v1's entry point to file and tabular datasets (``azureml.core.Dataset``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from runyard._services import datasets
from runyard.data import run_datasets
from runyard.data.abstract_dataset import AbstractDataset
from runyard.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard.core.workspace import Workspace


class Dataset:
    """Factories (``Dataset.File``, ``Dataset.Tabular``) and registry lookups."""

    File = FileDatasetFactory
    Tabular = TabularDatasetFactory

    @staticmethod
    def get_by_name(
        workspace: Workspace, name: str, version: int | str = "latest", **kwargs: Any
    ) -> AbstractDataset:
        """A registered dataset.

        Args:
            workspace: The workspace.
            name: The registered name.
            version: A version number, or 'latest'.
            **kwargs: v1 compatibility; none is used.

        Returns:
            A FileDataset or TabularDataset.

        Raises:
            DatasetNotFound: No such name or version (existing versions are listed).
        """
        if version == "latest":
            number = None
        elif str(version).isdigit():
            number = int(version)
        else:
            raise UserErrorException(f"version={version!r}: pass a version number or 'latest'.")
        info = datasets.get_dataset(workspace._services, name, number)
        return AbstractDataset._from_info(workspace, info)

    @staticmethod
    def get_by_id(workspace: Workspace, id: str, **kwargs: Any) -> AbstractDataset:  # noqa: A002
        """A registered dataset by its id. Inside a job, a direct input's id (what v1
        passes the script for ``ds.as_named_input('x')``) gives that input, read from the
        job's local copy without opening the workspace's store.

        Raises:
            DatasetNotFound: No dataset with that id.
        """
        found = run_datasets.direct_input_by_id(os.environ, id)
        if found is not None:
            return found
        info = datasets.get_dataset_by_id(workspace._services, id)
        return AbstractDataset._from_info(workspace, info)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, AbstractDataset]:
        """{name: latest registered dataset}, as ``ws.datasets`` returns."""
        return {
            info.name or info.id: AbstractDataset._from_info(workspace, info)
            for info in datasets.list_datasets(workspace._services)
        }
