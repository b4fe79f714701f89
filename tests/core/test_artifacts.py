"""Run files: upload, list, download, prefix handling and refused names."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard._artifact_names import check_artifact_name
from runyard.core import Experiment
from runyard.exceptions import ArtifactNotFound, InvalidArtifactName, UserErrorException


@pytest.fixture
def run(ws, tmp_path):
    run = Experiment(ws, "files").start_logging(snapshot_directory=None)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "model.pkl").write_bytes(b"model")
    (src / "sub" / "w.bin").write_bytes(b"weights")
    run.upload_folder("outputs", str(src))
    run.upload_file("metrics.txt", str(src / "model.pkl"))
    return run


def test_upload_folder_and_names(run):
    assert run.get_file_names() == ["metrics.txt", "outputs/model.pkl", "outputs/sub/w.bin"]


def test_download_file_default_and_explicit(run, tmp_path):
    run.download_file("outputs/model.pkl")
    assert Path("model.pkl").read_bytes() == b"model"
    run.download_file("outputs/sub/w.bin", str(tmp_path / "x" / "w.bin"))
    assert (tmp_path / "x" / "w.bin").read_bytes() == b"weights"


def test_download_missing_lists_existing(run):
    with pytest.raises(ArtifactNotFound) as err:
        run.download_file("outputs/nope.pkl")
    assert "'outputs/nope.pkl'" in str(err.value) and "outputs/model.pkl" in str(err.value)


def test_download_files_prefix_and_append_prefix(run, tmp_path):
    run.download_files(prefix="outputs/", output_directory=str(tmp_path / "a"))
    assert (tmp_path / "a" / "outputs" / "sub" / "w.bin").is_file()
    assert not (tmp_path / "a" / "metrics.txt").exists()
    run.download_files(prefix="outputs", output_directory=str(tmp_path / "b"), append_prefix=False)
    assert sorted(
        p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b").rglob("*.*")
    ) == [
        "model.pkl",
        "sub/w.bin",
    ]
    run.download_files(output_directory=str(tmp_path / "all"))
    assert (tmp_path / "all" / "metrics.txt").is_file()


def test_download_files_nothing_matches_fails(run, tmp_path):
    with pytest.raises(ArtifactNotFound, match="no file matches the prefix"):
        run.download_files(prefix="logs/", output_directory=str(tmp_path / "none"))
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../escape.txt", "'..' would leave the run's folder"),
        ("outputs/../../x", "'..' would leave the run's folder"),
        ("/etc/passwd", "absolute path"),
        ("C:/x", "absolute path"),
        ("a\\b", "use '/'"),
        ("", "it is empty"),
    ],
)
def test_bad_names_are_refused_and_nothing_stored(run, tmp_path, name, why):
    before = run.get_file_names()
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(InvalidArtifactName) as err:
        run.upload_file(name, str(src))
    assert why in str(err.value) and repr(name) in str(err.value)
    with pytest.raises(InvalidArtifactName):
        run.upload_files(["ok.txt", name], [str(src), str(src)])
    with pytest.raises(InvalidArtifactName):
        run.download_file(name)
    assert run.get_file_names() == before


def test_upload_files_unequal_lengths(run, tmp_path):
    with pytest.raises(UserErrorException, match="2 names and 1 paths"):
        run.upload_files(["a.txt", "b.txt"], [str(tmp_path)])
    assert "a.txt" not in run.get_file_names()


def test_upload_missing_local_file(run):
    with pytest.raises(UserErrorException, match="'missing.bin' does not exist"):
        run.upload_file("outputs/m.bin", "missing.bin")
    assert "outputs/m.bin" not in run.get_file_names()


def test_over_long_artifact_names_name_the_limit():
    with pytest.raises(InvalidArtifactName, match="at most 1024"):
        check_artifact_name("d/" * 600 + "f.txt")
    with pytest.raises(InvalidArtifactName, match="each folder or file name is at most 255 bytes"):
        check_artifact_name("outputs/" + "x" * 256)
    assert check_artifact_name("outputs/" + "x" * 255) == "outputs/" + "x" * 255


def test_a_file_uploaded_into_outputs_does_not_stop_the_run_from_completing(
    ws, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    run = Experiment(ws, "tracked").start_logging(snapshot_directory=None)
    (tmp_path / "outputs" / "m.pkl").write_bytes(b"v1")
    run.upload_file("outputs/m.pkl", "outputs/m.pkl")
    (tmp_path / "outputs" / "m.pkl").write_bytes(b"v2")
    run.complete()  # uploads ./outputs again at the end, as v1: the newer file wins
    assert run.get_status() == "Completed"
    out = tmp_path / "got.pkl"
    run.download_file("outputs/m.pkl", str(out))
    assert out.read_bytes() == b"v2"
