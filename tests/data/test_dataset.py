"""File and tabular datasets: paths, validation, registry, download, mount."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runyard.core.dataset import Dataset
from runyard.data import DatasetConsumptionConfig, FileDataset, TabularDataset
from runyard.exceptions import (
    DatasetExists,
    DatasetNotFound,
    DatasetPathNotFound,
    UserErrorException,
)
from runyard.opendatasets import MNIST


@pytest.fixture
def uploaded(ws, tmp_path):
    src = tmp_path / "src"
    for rel, text in {
        "digits/a.csv": "x,y\n1,2\n",
        "digits/sub/b.csv": "x,y\n3,4\n",
        "digits/notes.txt": "n",
        "other/c.csv": "x,y\n5,6\n",
    }.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    ds = ws.get_default_datastore()
    ds.upload(src, target_path="data", show_progress=False)
    return ds


def test_from_files_folder_tuple_lists_files_relative_to_it(uploaded):
    dataset = Dataset.File.from_files(path=(uploaded, "data/digits"))
    assert isinstance(dataset, FileDataset)
    assert dataset.to_path() == ["/a.csv", "/notes.txt", "/sub/b.csv"]
    assert (dataset.id, dataset.name, dataset.version) == (None, None, None)


def test_from_files_glob(uploaded):
    dataset = Dataset.File.from_files((uploaded, "data/digits/**/*.csv"))
    assert dataset.to_path() == ["/a.csv", "/sub/b.csv"]


def test_from_files_list_keeps_paths_under_the_common_folder(uploaded):
    dataset = Dataset.File.from_files([(uploaded, "data/digits/a.csv"), (uploaded, "data/other")])
    assert dataset.to_path() == ["/digits/a.csv", "/other/c.csv"]


def test_from_files_datapath_and_local_string(uploaded, tmp_path):
    via_path = Dataset.File.from_files(uploaded.path("data/other"))
    assert via_path.to_path() == ["/c.csv"]
    local = Dataset.File.from_files(str(tmp_path / "src" / "other"))
    assert local.to_path() == ["/c.csv"]


def test_validate_names_the_path_that_matches_nothing(uploaded):
    with pytest.raises(DatasetPathNotFound) as info:
        Dataset.File.from_files([(uploaded, "data/digits"), (uploaded, "data/nope/*.csv")])
    message = str(info.value)
    assert "No file matches the dataset path ('workspaceblobstore', 'data/nope/*.csv')" in message
    assert "validate=False" in message
    lazy = Dataset.File.from_files((uploaded, "data/nope"), validate=False)
    assert lazy.to_path() == []


def test_unsupported_path_type_is_refused():
    with pytest.raises(UserErrorException, match=r"Dataset path 42 is not supported.*tuple"):
        Dataset.File.from_files(42)
    with pytest.raises(UserErrorException, match=r"path=\[\] names no files"):
        Dataset.File.from_files([])


def test_register_versions_and_lookups(ws, uploaded):
    dataset = Dataset.File.from_files((uploaded, "data/digits"))
    first = dataset.register(ws, "digits", description="d", tags={"k": "v"})
    assert (first.name, first.version, first.description, first.tags) == (
        "digits",
        1,
        "d",
        {"k": "v"},
    )
    second = dataset.register(ws, "digits", create_new_version=True)
    assert second.version == 2
    latest = Dataset.get_by_name(ws, "digits")
    assert (latest.version, latest.id) == (2, second.id)
    assert Dataset.get_by_name(ws, "digits", version=1).id == first.id
    by_id = Dataset.get_by_id(ws, first.id)
    assert isinstance(by_id, FileDataset) and by_id.to_path() == dataset.to_path()
    assert {n: d.version for n, d in ws.datasets.items()} == {"digits": 2}


def test_register_without_new_version_returns_existing_or_refuses(ws, uploaded):
    dataset = Dataset.File.from_files((uploaded, "data/digits"))
    first = dataset.register(ws, "digits")
    assert dataset.register(ws, "digits").id == first.id
    other = Dataset.File.from_files((uploaded, "data/other"))
    with pytest.raises(DatasetExists, match=r"'digits' \(version 1\).*create_new_version=True"):
        other.register(ws, "digits")
    assert Dataset.get_by_name(ws, "digits").version == 1


def test_get_by_name_errors(ws, uploaded):
    Dataset.File.from_files((uploaded, "data/digits")).register(ws, "digits")
    with pytest.raises(DatasetNotFound, match=r"version 5 of dataset 'digits'.*\[1\]"):
        Dataset.get_by_name(ws, "digits", version=5)
    with pytest.raises(UserErrorException, match=r"version='newest': pass a version number"):
        Dataset.get_by_name(ws, "digits", version="newest")


def test_download_keeps_layout_and_refuses_to_overwrite(uploaded, tmp_path):
    dataset = Dataset.File.from_files((uploaded, "data/digits/**/*.csv"))
    out = tmp_path / "out"
    written = dataset.download(out)
    assert sorted(Path(p).relative_to(out).as_posix() for p in written) == ["a.csv", "sub/b.csv"]
    (out / "a.csv").write_text("mine")
    with pytest.raises(UserErrorException, match=r"already exist under .*overwrite=True"):
        dataset.download(out)
    assert (out / "a.csv").read_text() == "mine"
    dataset.download(out, overwrite=True)
    assert (out / "a.csv").read_text() == "x,y\n1,2\n"


def test_download_of_nothing(uploaded, tmp_path):
    empty = Dataset.File.from_files((uploaded, "data/none"), validate=False)
    with pytest.raises(DatasetPathNotFound, match="data/none"):
        empty.download(tmp_path / "o")
    assert empty.download(tmp_path / "o", ignore_not_found=True) == []


def test_mount_gives_a_read_only_folder_removed_on_exit(uploaded):
    dataset = Dataset.File.from_files((uploaded, "data/digits"))
    with dataset.mount() as context:
        point = Path(context.mount_point)
        assert (point / "sub/b.csv").read_text() == "x,y\n3,4\n"
        assert oct((point / "a.csv").stat().st_mode & 0o777) == "0o444"
        assert oct((point / "sub").stat().st_mode & 0o777) == "0o555"
    assert not point.exists()


def test_consumption_config_run_data(ws, uploaded):
    dataset = Dataset.File.from_files((uploaded, "data/digits")).register(ws, "digits")
    named = dataset.as_named_input("digits")
    assert isinstance(named, DatasetConsumptionConfig) and named.mode == "direct"
    mount = named.as_mount()
    assert mount._to_run_data() == {
        "mode": "mount",
        "path_on_compute": None,
        "dataset": dataset._definition(),
        "dataset_id": dataset.id,
        "dataset_name": "digits",
        "dataset_version": 1,
    }
    assert named.as_download("/tmp/d")._to_run_data()["path_on_compute"] == "/tmp/d"
    with pytest.raises(UserErrorException, match=r"name 'my-data' must be letters, digits and '_'"):
        dataset.as_named_input("my-data")


def test_tabular_cannot_be_mounted(tmp_path):
    (tmp_path / "t.csv").write_text("a\n1\n")
    table = Dataset.Tabular.from_delimited_files(str(tmp_path / "t.csv"))
    with pytest.raises(UserErrorException, match=r"as_mount\(\) needs a FileDataset"):
        table.as_named_input("t").as_mount()


def test_tabular_to_pandas_dataframe(ws, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "1.csv").write_text("name;score;age\nann;1.5;30\nbob;2.5;40\n")
    (folder / "2.csv").write_text("name;score;age\ncid;3.5;50\n")
    table = Dataset.Tabular.from_delimited_files(
        str(folder / "*.csv"), separator=";", include_path=True, set_column_types={"age": float}
    )
    assert isinstance(table, TabularDataset)
    frame = table.to_pandas_dataframe()
    assert list(frame.columns) == ["Path", "name", "score", "age"]
    assert frame["name"].tolist() == ["ann", "bob", "cid"]
    assert frame["score"].tolist() == [1.5, 2.5, 3.5]
    assert str(frame["age"].dtype) == "float64"
    assert frame["Path"].tolist() == ["/1.csv", "/1.csv", "/2.csv"]
    registered = table.register(ws, "scores")
    again = Dataset.get_by_name(ws, "scores")
    assert isinstance(again, TabularDataset) and registered.id == again.id
    assert again.to_pandas_dataframe().equals(frame)


def test_tabular_without_type_inference_reads_strings(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    frame = Dataset.Tabular.from_delimited_files(
        str(tmp_path / "t.csv"), infer_column_types=False
    ).to_pandas_dataframe()
    assert frame.to_dict("records") == [{"a": "1", "b": "2"}]


def test_tabular_header_false_names_columns_like_v1(tmp_path):
    (tmp_path / "t.csv").write_text("1;x\n2;y\n")
    frame = Dataset.Tabular.from_delimited_files(
        str(tmp_path / "t.csv"), separator=";", header=False
    ).to_pandas_dataframe()
    assert frame.to_dict("records") == [
        {"Column1": 1, "Column2": "x"},
        {"Column1": 2, "Column2": "y"},
    ]


def test_tabular_header_accepts_v1_promote_headers_names(tmp_path):
    (tmp_path / "1.csv").write_text("a,b\n1,2\n")
    (tmp_path / "2.csv").write_text("3,4\n")
    only_first = Dataset.Tabular.from_delimited_files(
        str(tmp_path / "*.csv"), header="ONLY_FIRST_FILE_HAS_HEADERS"
    ).to_pandas_dataframe()
    assert only_first.to_dict("records") == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    none = Dataset.Tabular.from_delimited_files(str(tmp_path / "2.csv"), header="NO_HEADERS")
    assert list(none.to_pandas_dataframe().columns) == ["Column1", "Column2"]
    with pytest.raises(UserErrorException, match=r"header='first' is not supported"):
        Dataset.Tabular.from_delimited_files(str(tmp_path / "1.csv"), header="first")


def test_tabular_set_column_types_errors_name_the_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,x\n")
    path = str(tmp_path / "t.csv")
    missing = Dataset.Tabular.from_delimited_files(path, set_column_types={"c": int})
    with pytest.raises(UserErrorException, match=r"column\(s\) \['c'\] that the files do not"):
        missing.to_pandas_dataframe()
    bad = Dataset.Tabular.from_delimited_files(path, set_column_types={"b": int})
    with pytest.raises(UserErrorException, match=r"Column 'b' cannot be read as 'int'"):
        bad.to_pandas_dataframe()


def test_mnist_file_dataset_lists_the_npz_files(runyard_home):
    # v1's four gz files sit beside them (tests/opendatasets/test_mnist.py).
    dataset = MNIST.get_file_dataset()
    assert dataset.to_path()[:2] == [
        "/pfnet/chainer/mnist/test.npz",
        "/pfnet/chainer/mnist/train.npz",
    ]
    assert os.fspath(runyard_home) in dataset._definition()["paths"][0]["url"]


def test_upload_directory_returns_a_file_dataset(ws, tmp_path):
    src = tmp_path / "up"
    (src / "k").mkdir(parents=True)
    (src / "k" / "a.csv").write_text("1")
    (src / "b.txt").write_text("2")
    store = ws.get_default_datastore()
    everything = Dataset.File.upload_directory(src, (store, "up"), show_progress=False)
    assert everything.to_path() == ["/b.txt", "/k/a.csv"]
    only_csv = Dataset.File.upload_directory(
        src, store.path("csv"), pattern="**/*.csv", show_progress=False
    )
    assert only_csv.to_path() == ["/k/a.csv"]
    with pytest.raises(UserErrorException, match=r"target='up': pass a \(datastore, 'folder'\)"):
        Dataset.File.upload_directory(src, "up")
