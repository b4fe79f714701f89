"""``TabularDataset``: delimited files read as one table (v1: azureml.data.TabularDataset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runyard.data.abstract_dataset import AbstractDataset
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped]


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
        mode = _stored_header_mode(reader.get("header", True))
        frames = []
        columns: list[str] | None = None
        for index, file in enumerate(self._files()):
            has_header = mode != "NO_HEADERS" and (
                index == 0 or mode != "ONLY_FIRST_FILE_HAS_HEADERS"
            )
            with file.fs.open(file.path, "rb") as handle:
                frame = pd.read_csv(
                    handle,
                    sep=reader.get("separator", ","),
                    header=0 if has_header else None,
                    encoding=reader.get("encoding", "utf8"),
                    dtype=None if reader.get("infer_column_types", True) else str,
                    keep_default_na=not reader.get("empty_as_string", False),
                )
            if not has_header:
                # v1 (dataprep) names header-less columns Column1, Column2, ...; later files
                # of ONLY_FIRST_FILE_HAS_HEADERS take the first file's names.
                names = [f"Column{i + 1}" for i in range(frame.shape[1])]
                if columns is not None and len(columns) == frame.shape[1]:
                    names = columns
                frame.columns = names
            elif columns is None:
                columns = [str(c) for c in frame.columns]
            if reader.get("include_path", False):
                frame.insert(0, "Path", "/" + file.relative)
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        types = reader.get("set_column_types") or {}
        missing = [name for name in types if name not in table.columns]
        if missing:
            raise UserErrorException(
                f"set_column_types names column(s) {missing} that the files do not have; "
                f"their columns are {[str(c) for c in table.columns]}. Fix the names in "
                "set_column_types (header=False names columns Column1, Column2, ...)."
            )
        for name, kind in types.items():
            try:
                table[name] = table[name].astype(kind)
            except (TypeError, ValueError) as exc:
                raise UserErrorException(
                    f"Column {name!r} cannot be read as {kind!r} (set_column_types): {exc}. "
                    "Fix the data or drop that column from set_column_types."
                ) from None
        return table

    def to_path(self) -> list[str]:
        """The underlying files' paths relative to the dataset's root."""
        return ["/" + f.relative for f in self._files()]


def _stored_header_mode(header: Any) -> str:
    """The stored reader header (older definitions hold a bool) as a v1 mode name."""
    if header is True:
        return "ALL_FILES_HAVE_SAME_HEADERS"
    if header is False:
        return "NO_HEADERS"
    return str(header)
