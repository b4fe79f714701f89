"""FolderArtifactStore: atomic writes, listing, copies, and refused names."""

from __future__ import annotations

import re

import pytest

from runyard._store import open_artifact_store
from runyard._store.folder import FolderArtifactStore
from runyard.exceptions import ArtifactNotFound, InvalidArtifactName, UserErrorException


@pytest.fixture
def artifacts(tmp_path) -> FolderArtifactStore:
    store = open_artifact_store(tmp_path / "artifacts")
    assert isinstance(store, FolderArtifactStore)
    return store


def _all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_put_bytes_and_read_back(artifacts):
    artifacts.put_bytes("runs/r1/outputs/a.txt", b"hello")
    assert artifacts.read_bytes("runs/r1/outputs/a.txt") == b"hello"
    assert artifacts.exists("runs/r1/outputs/a.txt")
    assert not artifacts.exists("runs/r1/outputs/b.txt")


def test_put_file_replaces_and_leaves_no_temp_files(artifacts, tmp_path):
    src = tmp_path / "model.pkl"
    src.write_bytes(b"v1")
    artifacts.put_file("models/u/model.pkl", src)
    src.write_bytes(b"v2")
    artifacts.put_file("models/u/model.pkl", src)
    assert artifacts.read_bytes("models/u/model.pkl") == b"v2"
    assert _all_files(artifacts.root) == ["models/u/model.pkl"]


def test_get_file_creates_parent_folders(artifacts, tmp_path):
    artifacts.put_bytes("runs/r1/logs/x.log", b"line\n")
    dest = tmp_path / "out" / "deep" / "x.log"
    artifacts.get_file("runs/r1/logs/x.log", dest)
    assert dest.read_bytes() == b"line\n"


def test_missing_key_raises_with_its_name(artifacts, tmp_path):
    with pytest.raises(ArtifactNotFound, match=r"No file 'runs/r1/nope.txt' in the artifact"):
        artifacts.get_file("runs/r1/nope.txt", tmp_path / "x")
    with pytest.raises(ArtifactNotFound, match="'runs/r1/nope.txt'"):
        artifacts.read_bytes("runs/r1/nope.txt")
    assert not (tmp_path / "x").exists()


def test_list_is_sorted_and_scoped_to_the_prefix(artifacts):
    for key in (
        "runs/r1/outputs/b.txt",
        "runs/r1/outputs/a/c.txt",
        "runs/r1/logs/l.txt",
        "runs/r10/outputs/x.txt",
    ):
        artifacts.put_bytes(key, b"x")
    assert artifacts.list("runs/r1/") == [
        "runs/r1/logs/l.txt",
        "runs/r1/outputs/a/c.txt",
        "runs/r1/outputs/b.txt",
    ]
    assert artifacts.list("runs/r1/outputs/b.txt") == ["runs/r1/outputs/b.txt"]
    assert artifacts.list("runs/none/") == []
    assert len(artifacts.list("")) == 4


def test_copy_and_delete_prefix(artifacts):
    artifacts.put_bytes("runs/r1/outputs/m.pkl", b"m")
    artifacts.copy("runs/r1/outputs/m.pkl", "models/u/m.pkl")
    artifacts.delete_prefix("runs/r1/")
    assert artifacts.list("") == ["models/u/m.pkl"]
    assert artifacts.read_bytes("models/u/m.pkl") == b"m"


def test_delete_prefix_refuses_the_whole_store(artifacts):
    artifacts.put_bytes("a/b.txt", b"x")
    with pytest.raises(UserErrorException, match=r"delete_prefix\(''\) would empty"):
        artifacts.delete_prefix("")
    assert artifacts.list("") == ["a/b.txt"]


def test_local_path_is_under_the_root(artifacts):
    assert artifacts.local_path("runs/r1/x.txt") == artifacts.root / "runs" / "r1" / "x.txt"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../escape.txt", "'..' would leave the run's folder"),
        ("runs/r1/../../x", "'..' would leave the run's folder"),
        ("/etc/passwd", "it is an absolute path"),
        ("C:/x.txt", "it is an absolute path"),
        ("outputs\\model.pkl", "use '/' as the separator"),
        ("", "it is empty"),
        ("  ", "it is empty"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(artifacts, tmp_path, name, why):
    src = tmp_path / "f.txt"
    src.write_bytes(b"x")
    for call in (
        lambda: artifacts.put_bytes(name, b"x"),
        lambda: artifacts.put_file(name, src),
        lambda: artifacts.get_file(name, tmp_path / "dest"),
        lambda: artifacts.exists(name),
    ):
        with pytest.raises(InvalidArtifactName, match=re.escape(why)):
            call()
    assert _all_files(artifacts.root) == []
    assert not (tmp_path / "dest").exists()
    assert not (tmp_path / "escape.txt").exists()
