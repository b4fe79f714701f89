"""v1's lazy dataset transforms: skip, take, take_sample, random_split, keep/drop_columns,
to_csv_files / to_parquet_files, on real files in the workspace's datastore."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from runyard.core.dataset import Dataset
from runyard.data import FileDataset, TabularDataset
from runyard.exceptions import UserErrorException


@pytest.fixture
def store(ws, tmp_path):
    """The default datastore holding tab/1.csv (ids 0-49) and tab/2.csv (50-99), and
    files/f00.txt ... files/f19.txt."""
    src = tmp_path / "src"
    (src / "tab").mkdir(parents=True)
    for part, ids in (("1", range(50)), ("2", range(50, 100))):
        rows = "".join(f"{i},n{i},{i * 0.5}\n" for i in ids)
        (src / "tab" / f"{part}.csv").write_text("id,name,score\n" + rows)
    (src / "files").mkdir()
    for i in range(20):
        (src / "files" / f"f{i:02}.txt").write_text(str(i))
    datastore = ws.get_default_datastore()
    datastore.upload(src, show_progress=False)
    return datastore


@pytest.fixture
def table(store) -> TabularDataset:
    return Dataset.Tabular.from_delimited_files((store, "tab/*.csv"))


@pytest.fixture
def files(store) -> FileDataset:
    return Dataset.File.from_files((store, "files"))


def _ids(dataset: TabularDataset) -> list[int]:
    return dataset.to_pandas_dataframe()["id"].tolist()


def test_take_and_skip_count_records_across_files(table):
    assert _ids(table.take(3)) == [0, 1, 2]
    assert _ids(table.skip(97)) == [97, 98, 99]
    assert _ids(table.skip(48).take(4)) == [48, 49, 50, 51]
    assert _ids(table.take(500)) == list(range(100))
    assert _ids(table.skip(500)) == []


def test_transforms_are_lazy_and_leave_the_dataset_unchanged(ws, table, store, tmp_path):
    first = table.take(2)
    assert isinstance(first, TabularDataset) and first.name is None
    assert len(table.to_pandas_dataframe()) == 100
    # Nothing was read when take() was called: new rows show up when it is read.
    (tmp_path / "0.csv").write_text("id,name,score\n-1,new,0\n")
    store.upload_files(
        [str(tmp_path / "0.csv")], str(tmp_path), target_path="tab", show_progress=False
    )
    assert _ids(first) == [-1, 0]


def test_take_sample_with_a_seed_is_repeatable(table):
    sample = table.take_sample(0.3, seed=7)
    ids = _ids(sample)
    assert ids == _ids(table.take_sample(0.3, seed=7))
    assert ids != _ids(table.take_sample(0.3, seed=8))
    assert 15 <= len(ids) <= 45 and ids == sorted(ids)
    assert _ids(table.take_sample(0.0)) == [] and len(_ids(table.take_sample(1.0))) == 100


def test_take_sample_without_a_seed_keeps_the_seed_it_drew(ws, table):
    sample = table.take_sample(0.5)
    assert _ids(sample) == _ids(sample)
    again = Dataset.get_by_name(ws, sample.register(ws, "half").name)
    assert _ids(again) == _ids(sample)


def test_random_split_parts_are_complementary(table):
    train, test = table.random_split(0.8, seed=1)
    train_ids, test_ids = _ids(train), _ids(test)
    assert sorted(train_ids + test_ids) == list(range(100))
    assert not set(train_ids) & set(test_ids)
    assert 65 <= len(train_ids) <= 95
    unseeded = table.random_split(0.5)
    assert sorted(_ids(unseeded[0]) + _ids(unseeded[1])) == list(range(100))


def test_keep_and_drop_columns(table, store):
    assert list(table.keep_columns(["score", "id"]).to_pandas_dataframe().columns) == [
        "id",
        "score",
    ]
    assert list(table.keep_columns("name").to_pandas_dataframe().columns) == ["name"]
    assert list(table.drop_columns("name").to_pandas_dataframe().columns) == ["id", "score"]
    with_path = Dataset.Tabular.from_delimited_files((store, "tab/*.csv"), include_path=True)
    assert "Path" not in with_path.drop_columns(["Path"]).to_pandas_dataframe().columns


def test_missing_columns_are_named_when_read_or_validated(table):
    lazy = table.keep_columns(["id", "age"])
    with pytest.raises(UserErrorException) as info:
        lazy.to_pandas_dataframe()
    assert "no column(s) ['age']" in str(info.value)
    assert "its columns are ['id', 'name', 'score']" in str(info.value)
    with pytest.raises(UserErrorException, match=r"drop_columns\(\['x'\]\).*no column"):
        table.drop_columns("x").to_pandas_dataframe()
    with pytest.raises(UserErrorException, match=r"no column\(s\) \['age'\]"):
        table.keep_columns("age", validate=True)


def test_transforms_chain_in_order_and_survive_registration(ws, table):
    chained = table.skip(10).take_sample(0.5, seed=3).keep_columns("id").take(5)
    frame = chained.to_pandas_dataframe()
    assert list(frame.columns) == ["id"] and len(frame) == 5 and frame["id"].min() >= 10
    registered = chained.register(ws, "chained")
    assert Dataset.get_by_name(ws, "chained").to_pandas_dataframe().equals(frame)
    assert registered.to_pandas_dataframe().equals(frame)
    assert "then ['skip', 'take_sample', 'keep_columns', 'take']" in repr(chained)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.take(-1), r"take\(count=-1\): count must be a whole number"),
        (lambda t: t.skip(1.5), r"skip\(count=1.5\): count must be a whole number"),
        (lambda t: t.take(True), r"take\(count=True\)"),
        (lambda t: t.take_sample(1.5), r"take_sample\(probability=1.5\).*from 0.0 to 1.0"),
        (lambda t: t.take_sample(float("nan")), r"probability=nan"),
        (lambda t: t.take_sample(0.5, seed="x"), r"seed='x'\): seed must be a whole number"),
        (lambda t: t.random_split(-0.1), r"random_split\(percentage=-0.1\)"),
        (lambda t: t.keep_columns([]), r"keep_columns\(columns=\[\]\): pass a column name"),
        (lambda t: t.drop_columns([1]), r"drop_columns\(columns=\[1\]\)"),
        (lambda t: t.to_csv_files(separator=";;"), r"separator=';;'\): pass one character"),
    ],
)
def test_bad_transform_arguments_are_refused_with_the_fix(table, call, message):
    with pytest.raises(UserErrorException, match=message):
        call(table)


def test_file_dataset_take_skip_and_split_select_files(files, tmp_path):
    assert files.take(2).to_path() == ["/f00.txt", "/f01.txt"]
    assert files.skip(18).to_path() == ["/f18.txt", "/f19.txt"]
    first, second = files.random_split(0.5, seed=4)
    assert sorted(first.to_path() + second.to_path()) == files.to_path()
    assert not set(first.to_path()) & set(second.to_path())
    written = first.download(tmp_path / "first")
    assert sorted("/" + Path(p).name for p in written) == first.to_path()
    sample = files.take_sample(0.5, seed=4)
    assert sample.to_path() == first.to_path()  # the same draws as the split's first part


def test_file_transforms_refuse_column_operations(files):
    files._def["transforms"] = [{"op": "keep_columns", "columns": ["a"]}]
    with pytest.raises(UserErrorException, match="keep_columns applies to a TabularDataset"):
        files.to_path()


def test_to_csv_files_writes_the_records_when_read(table, tmp_path):
    csv = table.take(3).keep_columns(["id", "name"]).to_csv_files(separator=";")
    assert isinstance(csv, FileDataset)
    assert csv.to_path() == ["/part-00000.csv"]
    [written] = csv.download(tmp_path / "out")
    assert Path(written).read_text() == "id;name\n0;n0\n1;n1\n2;n2\n"
    again = Dataset.Tabular.from_delimited_files(written, separator=";")
    assert again.to_pandas_dataframe().to_dict("records") == [
        {"id": 0, "name": "n0"},
        {"id": 1, "name": "n1"},
        {"id": 2, "name": "n2"},
    ]
    with csv.mount() as context:
        assert (Path(context.mount_point) / "part-00000.csv").read_text().startswith("id;name")


def test_to_csv_files_of_a_registered_table_reads_from_its_datastore(ws, table, tmp_path):
    table.register(ws, "scores")
    csv = Dataset.get_by_name(ws, "scores").skip(99).to_csv_files()
    [written] = csv.download(tmp_path / "o")
    assert Path(written).read_text() == "id,name,score\n99,n99,49.5\n"


@pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is not None, reason="pyarrow is installed here"
)
def test_to_parquet_files_without_pyarrow_says_what_to_install(table, tmp_path):
    parquet = table.to_parquet_files()
    assert parquet.to_path() == ["/part-00000.parquet"]  # listing needs no engine
    with pytest.raises(UserErrorException, match=r"to_parquet_files\(\) needs a Parquet engine"):
        parquet.download(tmp_path / "p")
    assert not (tmp_path / "p" / "part-00000.parquet").exists()


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_to_parquet_files_round_trip(table, tmp_path):
    import pandas as pd

    [written] = table.take(4).to_parquet_files().download(tmp_path / "p")
    assert pd.read_parquet(written)["id"].tolist() == [0, 1, 2, 3]
