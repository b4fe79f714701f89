"""``TabularDataset``: delimited files read as one table (v1: azureml.data.TabularDataset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runyard._services import dataset_tables
from runyard.data import _transforms
from runyard.data.abstract_dataset import AbstractDataset
from runyard.data.file_dataset import FileDataset
from runyard.exceptions import UserErrorException

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

    # ---- column transforms and conversions (lazy: new, unregistered datasets) --------
    def keep_columns(self, columns: str | list[str], validate: bool = False) -> TabularDataset:
        """Only these columns, in the dataset's order.

        Args:
            columns: A column name or a list of names.
            validate: Read the data now to check that the columns exist (otherwise a
                missing column is reported when the data is read).

        Raises:
            UserErrorException: No column named, or (validate=True, or when read) a name
                the dataset does not have.
        """
        kept = self._with_transform(_transforms.columns_transform("keep_columns", columns))
        if validate:
            kept.to_pandas_dataframe()
        return kept

    def drop_columns(self, columns: str | list[str]) -> TabularDataset:
        """All columns but these.

        Raises:
            UserErrorException: No column named, or (when read) a name the dataset does
                not have.
        """
        return self._with_transform(_transforms.columns_transform("drop_columns", columns))

    def to_csv_files(self, separator: str = ",") -> FileDataset:
        """A FileDataset of CSV files holding these records (with a header line).

        The files are written only when they are read, downloaded, mounted or given to
        a run (v1: "not materialized until they are downloaded or read from").

        Args:
            separator: The field separator of the files.

        Raises:
            UserErrorException: separator is not a one-character string.
        """
        if not isinstance(separator, str) or len(separator) != 1:
            raise UserErrorException(
                f"to_csv_files(separator={separator!r}): pass one character, e.g. ',' or '\\t'."
            )
        return self._as_files({"format": "csv", "separator": separator})

    def to_parquet_files(self) -> FileDataset:
        """A FileDataset of Parquet files holding these records.

        The files are written only when they are read (see to_csv_files); writing them
        needs pyarrow where that happens.
        """
        return self._as_files({"format": "parquet"})

    def _as_files(self, conversion: dict[str, Any]) -> FileDataset:
        definition = {"type": "File", "from_tabular": self._definition(), **conversion}
        return FileDataset(definition, workspace=self._workspace)
