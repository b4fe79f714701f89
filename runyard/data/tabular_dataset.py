"""``TabularDataset``: delimited files read as one table (v1: azureml.data.TabularDataset)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runyard._services import dataset_tables
from runyard.data.abstract_dataset import AbstractDataset

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped]


class TabularDataset(AbstractDataset):
    """Rows from delimited files; made with ``Dataset.Tabular.from_delimited_files``."""

    _TYPE = "Tabular"

    def to_pandas_dataframe(self) -> pandas.DataFrame:
        """All files' rows in one DataFrame, files in path order, transforms applied.

        Returns:
            A pandas DataFrame (column types inferred unless infer_column_types=False,
            then set_column_types applied; a 'Path' column when include_path=True).

        Raises:
            UserErrorException: A column named by set_column_types, keep_columns or
                drop_columns is missing, or cannot take its type.
        """
        return dataset_tables.read_table(self._def, self._services())

    def to_path(self) -> list[str]:
        """The underlying files' paths relative to the dataset's root."""
        return ["/" + f.relative for f in self._files()]

