"""``Dataset.File`` and ``Dataset.Tabular``: v1's FileDatasetFactory and TabularDatasetFactory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.data.abstract_dataset import path_entries
from runyard.data.datapath import DataPath
from runyard.data.file_dataset import FileDataset
from runyard.data.tabular_dataset import TabularDataset
from runyard.exceptions import UserErrorException

if TYPE_CHECKING:
    from runyard.core.datastore import Datastore


def _column_type(name: str, value: Any) -> str:
    if isinstance(value, type) and value.__name__ in ("int", "float", "str", "bool"):
        return value.__name__
    if isinstance(value, str):
        return value
    raise UserErrorException(
        f"set_column_types[{name!r}]={value!r} is not supported; use int, float, str, bool "
        "or a pandas dtype name such as 'datetime64[ns]'."
    )


# v1's PromoteHeadersBehavior values; True and False are its ALL_FILES... and NO_HEADERS.
HEADER_MODES = (
    "ALL_FILES_HAVE_SAME_HEADERS",
    "NO_HEADERS",
    "ONLY_FIRST_FILE_HAS_HEADERS",
    "COMBINE_ALL_FILES_HEADERS",
)


def _header_mode(header: Any) -> str:
    if header is True:
        return HEADER_MODES[0]
    if header is False:
        return HEADER_MODES[1]
    mode = getattr(header, "name", header)  # a PromoteHeadersBehavior-like enum member
    if isinstance(mode, str) and mode.upper() in HEADER_MODES:
        return mode.upper()
    raise UserErrorException(
        f"header={header!r} is not supported: pass True (each file starts with the same "
        f"header line), False (no header) or one of {list(HEADER_MODES)}."
    )


class FileDatasetFactory:
    """``Dataset.File``."""

    @staticmethod
    def from_files(
        path: Any,
        validate: bool = True,
        partition_format: str | None = None,
        is_file: bool = False,
    ) -> FileDataset:
        """A FileDataset over folders, files or globs.

        Args:
            path: A (datastore, 'folder' or 'glob/**') tuple, a DataPath, a local path or
                URL string, or a list of these.
            validate: Check that every path matches at least one file.
            partition_format: Kept in the definition (v1 compatibility).
            is_file: Kept in the definition (v1 compatibility).

        Returns:
            An unregistered FileDataset; files keep their paths relative to the paths'
            common base folder.

        Raises:
            DatasetPathNotFound: validate=True and a path matches no file (named).
            UserErrorException: An unsupported path type.
        """
        entries, workspace = path_entries(path)
        definition = {
            "type": "File",
            "paths": entries,
            "partition_format": partition_format,
            "is_file": bool(is_file),
        }
        dataset = FileDataset(definition, workspace=workspace)
        if validate:
            dataset._files(strict=True)
        return dataset

    @staticmethod
    def upload_directory(
        src_dir: str | os.PathLike[str],
        target: Any,
        pattern: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> FileDataset:
        """Uploads a folder to a datastore and returns a FileDataset over it.

        Args:
            src_dir: The local folder.
            target: A (datastore, 'folder') tuple or a DataPath.
            pattern: Only files matching this glob (relative to src_dir).
            overwrite: Replace existing files; otherwise they are skipped (logged).
            show_progress: Show a progress bar.
        """
        store: Datastore
        if isinstance(target, DataPath) and target.datastore is not None:
            store, folder = target.datastore, target.path_on_datastore
        elif isinstance(target, tuple) and len(target) == 2:
            store, folder = target
        else:
            raise UserErrorException(
                f"target={target!r}: pass a (datastore, 'folder') tuple or a DataPath."
            )
        if pattern is None:
            store.upload(src_dir, folder, overwrite=overwrite, show_progress=show_progress)
        else:
            root = os.fspath(src_dir)
            files = [p for p in Path(root).glob(pattern) if p.is_file()]
            store.upload_files(files, root, folder, overwrite, show_progress)
        return FileDatasetFactory.from_files((store, folder))


class TabularDatasetFactory:
    """``Dataset.Tabular``."""

    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Mapping[str, Any] | None = None,
        separator: str = ",",
        header: bool = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
    ) -> TabularDataset:
        """A TabularDataset over delimited (CSV, TSV ...) files.

        Args:
            path: As for Dataset.File.from_files.
            validate: Check that every path matches at least one file.
            include_path: Add a 'Path' column with each row's file.
            infer_column_types: Infer types; otherwise every column is a string.
            set_column_types: {column: int | float | str | bool | pandas dtype name}.
            separator: The field separator.
            header: True: every file's first line holds the column names; False: no
                header, columns are named Column1, Column2, ...; or a v1
                PromoteHeadersBehavior name such as 'ONLY_FIRST_FILE_HAS_HEADERS'.
            partition_format: Kept in the definition (v1 compatibility).
            support_multi_line: Quoted fields may span lines (pandas always allows it).
            empty_as_string: Keep empty fields as '' instead of missing values.
            encoding: The files' text encoding.

        Returns:
            An unregistered TabularDataset.

        Raises:
            DatasetPathNotFound: validate=True and a path matches no file (named).
        """
        header_mode = _header_mode(header)
        entries, workspace = path_entries(path)
        types = {k: _column_type(k, v) for k, v in (set_column_types or {}).items()}
        definition = {
            "type": "Tabular",
            "paths": entries,
            "partition_format": partition_format,
            "reader": {
                "format": "delimited",
                "separator": separator,
                "header": header_mode,
                "include_path": include_path,
                "infer_column_types": infer_column_types,
                "set_column_types": types,
                "support_multi_line": support_multi_line,
                "empty_as_string": empty_as_string,
                "encoding": encoding,
            },
        }
        dataset = TabularDataset(definition, workspace=workspace)
        if validate:
            dataset._files(strict=True)
        return dataset
