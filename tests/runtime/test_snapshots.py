"""Snapshots: ignore rules, limits checked before copying, copies not links."""

from __future__ import annotations

import dataclasses

import pytest

from runyard._services.snapshots import materialize, read_manifest, take_snapshot
from runyard.exceptions import SnapshotException, UserErrorException


def _blobs(services) -> list:
    folder = services.layout.snapshots_dir / "blobs"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_gitignore_is_honoured_and_git_pycache_skipped(services, source) -> None:
    src = source(
        {
            ".gitignore": "*.log\ndata/\n",
            "train.py": "x",
            "run.log": "x",
            "data/big.bin": "x",
            "keep/a.txt": "x",
            ".git/HEAD": "x",
            "__pycache__/train.cpython-311.pyc": "x",
            "pkg/__pycache__/m.pyc": "x",
        }
    )
    sid = take_snapshot(services, src, services.settings)
    assert sorted(read_manifest(services.layout, sid)) == [".gitignore", "keep/a.txt", "train.py"]


def test_amlignore_wins_over_gitignore(services, source) -> None:
    src = source({".amlignore": "secret.txt\n", ".gitignore": "*.py\n", "train.py": "x"})
    (src / "secret.txt").write_text("x")
    files = sorted(read_manifest(services.layout, take_snapshot(services, src, services.settings)))
    assert files == [".amlignore", ".gitignore", "train.py"]


def test_nested_gitignore_applies_below_its_folder(services, source) -> None:
    src = source({"a/.gitignore": "*.csv\n", "a/x.csv": "1", "b/y.csv": "2", "train.py": ""})
    files = sorted(read_manifest(services.layout, take_snapshot(services, src, services.settings)))
    assert files == ["a/.gitignore", "b/y.csv", "train.py"]


def test_same_content_gives_same_snapshot_id(services, source) -> None:
    one = source(**{"train.py": "print(1)"})
    two = source(**{"train.py": "print(1)"})
    assert take_snapshot(services, one, services.settings) == take_snapshot(
        services, two, services.settings
    )
    assert len(_blobs(services)) == 1


def test_materialize_copies_files_the_job_may_change(services, source, tmp_path) -> None:
    src = source(**{"train.py": "print(1)", "sub/run.sh": "echo"})
    (src / "sub/run.sh").chmod(0o755)
    sid = take_snapshot(services, src, services.settings)
    dest = materialize(services.layout, sid, tmp_path / "wd")
    assert (dest / "sub/run.sh").stat().st_mode & 0o777 == 0o755
    assert (dest / "train.py").stat().st_nlink == 1
    (dest / "train.py").write_text("changed")
    dest2 = materialize(services.layout, sid, tmp_path / "wd2")
    assert (dest2 / "train.py").read_text() == "print(1)"


def test_size_limit_error_names_dir_size_limit_fix_and_largest(services, source) -> None:
    src = source({"train.py": "x", "weights.bin": b"0" * 3_000_000, "small.txt": "y"})
    settings = dataclasses.replace(services.settings, snapshot_max_bytes=1_000_000)
    with pytest.raises(SnapshotException) as err:
        take_snapshot(services.layout, src, settings)
    message = str(err.value)
    assert str(src) in message
    assert "3.00 MB exceeds the limit of 1.00 MB" in message
    assert "weights.bin (3.0 MB)" in message
    assert ".amlignore" in message and "RUNYARD_SNAPSHOT_MAX_SIZE_BYTES" in message
    assert _blobs(services) == []


def test_too_big_source_stores_no_run(services, source, monkeypatch, submit) -> None:
    src = source({"train.py": "x", "weights.bin": b"0" * 3_000_000})
    limited = dataclasses.replace(services, settings=dataclasses.replace(
        services.settings, snapshot_max_bytes=1_000_000))  # fmt: skip
    with pytest.raises(SnapshotException, match="exceeds the limit"):
        submit(limited, src)
    assert services.store.list_runs() == []
    assert _blobs(services) == []


def test_file_count_limit_error(services, source) -> None:
    src = source({f"f{i}.txt": "x" for i in range(12)})
    settings = dataclasses.replace(services.settings, snapshot_max_files=10)
    with pytest.raises(SnapshotException) as err:
        take_snapshot(services, src, settings)
    assert "holds 12 files, more than the limit of 10 files" in str(err.value)
    assert "RUNYARD_SNAPSHOT_MAX_FILES" in str(err.value)
    assert _blobs(services) == []


def test_missing_source_directory_is_a_clear_error(services, tmp_path) -> None:
    with pytest.raises(UserErrorException) as err:
        take_snapshot(services, tmp_path / "nope", services.settings)
    assert "source_directory" in str(err.value) and "does not exist" in str(err.value)
    with pytest.raises(UserErrorException, match="is a file, not a folder"):
        (tmp_path / "f.py").write_text("")
        take_snapshot(services, tmp_path / "f.py", services.settings)
    assert _blobs(services) == []


def test_a_file_link_out_of_the_source_refuses_the_snapshot(services, source, tmp_path) -> None:
    (tmp_path / "secret.txt").write_text("not for the snapshot")
    src = source(**{"train.py": "x"})
    (src / "conf.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(SnapshotException) as err:
        take_snapshot(services, src, services.settings)
    message = str(err.value)
    assert str(src) in message and "'conf.txt' points to" in message
    assert str(tmp_path / "secret.txt") in message and "outside" in message
    assert ".amlignore" in message and "copy the file" in message
    assert _blobs(services) == []


def test_an_amlignored_link_out_of_the_source_is_left_out(services, source) -> None:
    src = source(**{"train.py": "x", ".amlignore": "etc_link\n"})
    (src / "etc_link").symlink_to("/etc")
    sid = take_snapshot(services, src, services.settings)
    assert sorted(read_manifest(services.layout, sid)) == [".amlignore", "train.py"]


def test_links_inside_the_source_are_followed(services, source, tmp_path) -> None:
    src = source(**{"train.py": "x", "data/a.csv": "1,2"})
    (src / "latest").symlink_to("data")
    (src / "a_copy.csv").symlink_to(src / "data/a.csv")
    sid = take_snapshot(services, src, services.settings)
    assert sorted(read_manifest(services.layout, sid)) == [
        "a_copy.csv",
        "data/a.csv",
        "latest/a.csv",
        "train.py",
    ]
    dest = materialize(services.layout, sid, tmp_path / "wd")
    assert (dest / "latest/a.csv").read_text() == "1,2" and not (dest / "latest").is_symlink()


def test_a_folder_link_that_loops_or_dangles_refuses_the_snapshot(services, source) -> None:
    src = source(**{"train.py": "x", "pkg/m.py": ""})
    (src / "pkg/up").symlink_to("..")
    (src / "gone").symlink_to("missing.txt")
    with pytest.raises(SnapshotException) as err:
        take_snapshot(services, src, services.settings)
    message = str(err.value)
    assert "'pkg/up' points to '..', a folder that holds the link (a loop)" in message
    assert "'gone' points to 'missing.txt', which does not exist" in message
