"""Tabular datasets: reading delimited files into one pandas DataFrame, applying the
definition's transforms, and writing a table as the files of ``to_csv_files`` /
``to_parquet_files`` (FileDatasets whose definition holds ``from_tabular``).

pandas is imported where a table is read or written, never at module level: jobs and the
agent import this module without needing it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._services.dataset_files import DatasetFile, list_files
from runyard._services.dataset_transforms import COLUMN_OPS, kept_positions
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard._services import Services

# The one file a converted table is written as (v1 writes one per partition).
TABLE_FILE_NAMES = {"csv": "part-00000.csv", "parquet": "part-00000.parquet"}


def stored_header_mode(header: Any) -> str:
    """The stored reader header (older definitions hold a bool) as a v1 mode name."""
    if header is True:
        return "ALL_FILES_HAVE_SAME_HEADERS"
    if header is False:
        return "NO_HEADERS"
    return str(header)


def read_table(definition: Mapping[str, Any], services: Services | None) -> Any:
    """The dataset's rows as one DataFrame (files in path order), transforms applied."""
    table = _read_files(definition, list_files(definition, services))
    return apply_transforms(table, definition.get("transforms") or [])


def _read_files(definition: Mapping[str, Any], files: list[DatasetFile]) -> Any:
    import pandas as pd  # type: ignore[import-untyped]  # heavy; only tables need it

    reader: dict[str, Any] = dict(definition.get("reader") or {})
    mode = stored_header_mode(reader.get("header", True))
    frames = []
    columns: list[str] | None = None
    for index, file in enumerate(files):
        has_header = mode != "NO_HEADERS" and (index == 0 or mode != "ONLY_FIRST_FILE_HAS_HEADERS")
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
    _set_column_types(table, reader.get("set_column_types") or {})
    return table


def _set_column_types(table: Any, types: Mapping[str, str]) -> None:
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


def apply_transforms(table: Any, transforms: Sequence[Mapping[str, Any]]) -> Any:
    """The table after skip/take/take_sample/random_split (rows) and keep_columns /
    drop_columns, in the order they were made."""
    for transform in transforms:
        op = transform.get("op")
        if op in COLUMN_OPS:
            table = _columns(table, op, list(transform["columns"]))
        else:
            rows = list(kept_positions(len(table), transform))
            table = table.iloc[rows].reset_index(drop=True)
    return table


def _columns(table: Any, op: str, columns: list[str]) -> Any:
    have = [str(c) for c in table.columns]
    missing = [c for c in columns if c not in have]
    if missing:
        raise UserErrorException(
            f"{op}({columns!r}): the dataset has no column(s) {missing}; its columns are "
            f"{have}. Fix the names (header=False names columns Column1, Column2, ...)."
        )
    if op == "keep_columns":
        return table[[c for c in have if c in columns]]
    return table.drop(columns=columns)


class TableFiles:
    """The filesystem of a converted table's one file: the table is read and written only
    when the file is opened or copied (v1: "not materialized until they are downloaded
    or read from")."""

    def __init__(self, source: Mapping[str, Any], fmt: str, separator: str, services: Any):
        self._source, self._format, self._separator = source, fmt, separator
        self._services = services

    def _write(self, target: Any) -> None:
        table = read_table(self._source, self._services)
        if self._format == "csv":
            table.to_csv(target, sep=self._separator, index=False)
            return
        try:
            table.to_parquet(target, index=False)
        except ImportError as exc:
            raise UserErrorException(
                f"to_parquet_files() needs a Parquet engine to write the files, and pandas "
                f"found none ({exc}). Install pyarrow (pip install pyarrow) where the "
                "dataset is read: this Python, or for a run's input the agent's and the "
                "job's environments."
            ) from None

    def open(self, path: str, mode: str = "rb") -> io.BytesIO:
        buffer = io.BytesIO()
        self._write(buffer)
        buffer.seek(0)
        return buffer

    def get_file(self, path: str, target: str) -> None:
        data = self.open(path).getvalue()  # written whole: a failed conversion leaves no file
        with open(target, "wb") as handle:
            handle.write(data)


def table_files(definition: Mapping[str, Any], services: Services | None) -> list[DatasetFile]:
    """The files of a FileDataset made by to_csv_files / to_parquet_files."""
    fmt = str(definition.get("format", "csv"))
    if fmt not in TABLE_FILE_NAMES:
        raise UserErrorException(
            f"A converted table's format {fmt!r} is not csv or parquet; build the dataset "
            "again with to_csv_files() or to_parquet_files()."
        )
    separator = str(definition.get("separator", ","))
    fs = TableFiles(definition["from_tabular"], fmt, separator, services)
    name = TABLE_FILE_NAMES[fmt]
    return [DatasetFile(fs, str(Path("/") / name), name)]
