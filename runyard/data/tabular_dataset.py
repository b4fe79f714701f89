"""``TabularDataset``: delimited files read as one table (v1: azureml.data.TabularDataset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runyard.data.abstract_dataset import AbstractDataset

if TYPE_CHECKING:
    import pandas


class TabularDataset(AbstractDataset):
    """Rows from delimited files; made with ``Dataset.Tabular.from_delimited_files``."""

    _TYPE = "Tabular"

    def to_pandas_dataframe(self) -> pandas.DataFrame:
        """All files' rows in one DataFrame, files in path order.

        Returns:
            A pandas DataFrame (column types inferred unless infer_column_types=False,
            then set_column_types applied; a 'Path' column when include_path=True).
        """
        import pandas as pd  # heavy, and only tabular datasets need it

        reader: dict[str, Any] = self._def.get("reader", {})
        frames = []
        for file in self._files():
            with file.fs.open(file.path, "rb") as handle:
                frame = pd.read_csv(
                    handle,
                    sep=reader.get("separator", ","),
                    header=0 if reader.get("header", True) else None,
                    encoding=reader.get("encoding", "utf8"),
                    dtype=None if reader.get("infer_column_types", True) else str,
                    keep_default_na=not reader.get("empty_as_string", False),
                )
            if reader.get("include_path", False):
                frame.insert(0, "Path", "/" + file.relative)
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        types = reader.get("set_column_types") or {}
        return table.astype(types) if types else table

    def to_path(self) -> list[str]:
        """The underlying files' paths relative to the dataset's root."""
        return ["/" + f.relative for f in self._files()]
