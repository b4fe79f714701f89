"""Datastores: the folder default, upload/download over fsspec, v1's overwrite rules."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runyard.core.datastore import Datastore
from runyard.data import DataReference
from runyard.exceptions import DatastoreNotFound, UserErrorException


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def stored(ds: Datastore) -> dict[str, str]:
    root = Path(ds.url.removeprefix("file://"))
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_default_datastore_is_a_folder_named_workspaceblobstore(ws):
    ds = ws.get_default_datastore()
    assert (ds.name, ds.datastore_type) == ("workspaceblobstore", "LocalFolder")
    assert ds.url == "file://" + (ws._layout.root / "datastores" / "workspaceblobstore").as_posix()
    assert Path(ds.url.removeprefix("file://")).is_dir()
    assert Datastore.get(ws, "workspaceblobstore") == ds == Datastore.get_default(ws)
    assert list(ws.datastores) == ["workspaceblobstore"]


def test_missing_datastore_names_it_and_the_fix(ws):
    ws.get_default_datastore()
    with pytest.raises(DatastoreNotFound) as info:
        Datastore.get(ws, "blobby")
    assert "No datastore named 'blobby'" in str(info.value)
    assert "['workspaceblobstore']" in str(info.value)
    with pytest.raises(DatastoreNotFound, match="'blobby'"):
        ws.set_default_datastore("blobby")
    assert list(ws.datastores) == ["workspaceblobstore"]
    assert ws.get_default_datastore().name == "workspaceblobstore"


def test_set_default_datastore(ws):
    ws.get_default_datastore()
    other = ws._services.store.register_datastore(
        name="other", datastore_type="LocalFolder", config={"url": "file:///tmp/none"}
    )
    assert not other.is_default
    ws.set_default_datastore("other")
    assert ws.get_default_datastore().name == "other"
    assert sorted(ws.datastores) == ["other", "workspaceblobstore"]


def test_upload_keeps_layout_under_target_path(ws, tmp_path):
    src = make_tree(tmp_path / "src", {"a.txt": "a", "sub/b.txt": "b"})
    ds = ws.get_default_datastore()
    ref = ds.upload(str(src), target_path="data/x", show_progress=False)
    assert isinstance(ref, DataReference)
    assert (ref.datastore, ref.path_on_datastore) == (ds, "data/x")
    assert str(ref) == "$AZUREML_DATAREFERENCE_workspaceblobstore"
    assert stored(ds) == {"data/x/a.txt": "a", "data/x/sub/b.txt": "b"}


def test_upload_skips_existing_files_unless_overwrite(ws, tmp_path, caplog):
    src = make_tree(tmp_path / "src", {"a.txt": "old", "b.txt": "b"})
    ds = ws.get_default_datastore()
    ds.upload(src, "d", show_progress=False)
    (src / "a.txt").write_text("new")
    with caplog.at_level(logging.WARNING, logger="runyard._services.datastores"):
        ds.upload(src, "d", show_progress=False)
    assert stored(ds)["d/a.txt"] == "old"
    assert "Skipped 2 file(s) that already exist in datastore 'workspaceblobstore'" in caplog.text
    assert "overwrite=True" in caplog.text
    ds.upload(src, "d", overwrite=True, show_progress=False)
    assert stored(ds)["d/a.txt"] == "new"


def test_upload_shows_a_progress_bar(ws, tmp_path, capsys):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    ws.get_default_datastore().upload(src, show_progress=True)
    out = capsys.readouterr()
    assert "Uploading to workspaceblobstore" in out.out + out.err


def test_upload_files_relative_root_and_target(ws, tmp_path):
    src = make_tree(tmp_path / "src", {"x/a.csv": "1", "x/y/b.csv": "2", "c.csv": "3"})
    ds = ws.get_default_datastore()
    files = [src / "x/a.csv", src / "x/y/b.csv"]
    ds.upload_files(files, relative_root=src, target_path="t", show_progress=False)
    assert stored(ds) == {"t/x/a.csv": "1", "t/x/y/b.csv": "2"}
    # Without relative_root, paths are relative to the files' common folder.
    ds.upload_files(files, target_path="u", show_progress=False)
    assert {k for k in stored(ds) if k.startswith("u/")} == {"u/a.csv", "u/y/b.csv"}


def test_upload_errors_name_the_problem_and_store_nothing(ws, tmp_path):
    src = make_tree(tmp_path / "src", {"a.txt": "a"})
    ds = ws.get_default_datastore()
    with pytest.raises(UserErrorException, match=r"no file at \[.*missing.txt'\]"):
        ds.upload_files([src / "a.txt", src / "missing.txt"], show_progress=False)
    with pytest.raises(UserErrorException, match=r"not under relative_root"):
        ds.upload_files([src / "a.txt"], relative_root=tmp_path / "elsewhere")
    with pytest.raises(UserErrorException, match=r"target_path='../up' leaves the datastore"):
        ds.upload(src, target_path="../up", show_progress=False)
    with pytest.raises(UserErrorException, match=r"upload\(src_dir=.*not a folder"):
        ds.upload(src / "a.txt", show_progress=False)
    assert stored(ds) == {}


def test_download_with_prefix_and_overwrite(ws, tmp_path):
    src = make_tree(tmp_path / "src", {"a/1.txt": "1", "a/2.txt": "2", "b/3.txt": "3"})
    ds = ws.get_default_datastore()
    ds.upload(src, show_progress=False)
    out = tmp_path / "out"
    assert ds.download(out, prefix="a", show_progress=False) == 2
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt")) == [
        "a/1.txt",
        "a/2.txt",
    ]
    (out / "a/1.txt").write_text("local")
    assert ds.download(out, prefix="a", show_progress=False) == 0
    assert (out / "a/1.txt").read_text() == "local"
    assert ds.download(out, overwrite=True, show_progress=False) == 3
    assert (out / "a/1.txt").read_text() == "1"


def test_path_gives_a_data_reference(ws):
    ref = ws.get_default_datastore().path("data/mnist").as_download()
    assert (ref.path_on_datastore, ref.mode) == ("data/mnist", "download")
