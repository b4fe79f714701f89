"""materialize_input: a run input's files under a folder, download (copy) or mount (read-only)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from runyard._services import datasets
from runyard.core.dataset import Dataset
from runyard.exceptions import UserErrorException
from runyard.opendatasets import MNIST

NOBODY = 65534


@pytest.fixture
def registered(ws, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    store = ws.get_default_datastore()
    store.upload(src, "d", show_progress=False)
    return Dataset.File.from_files((store, "d")).register(ws, "d")


@pytest.fixture
def shared_dir():
    """A folder every user can reach (tmp_path's parents are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="runyard-ro-"))
    folder.chmod(0o755)
    yield folder
    datasets.remove_materialized(folder)


def test_download_is_a_plain_copy(ws, registered, tmp_path):
    entry = registered.as_named_input("d").as_download()._to_run_data()
    dest = datasets.materialize_input(ws._services, entry, tmp_path / "in")
    assert dest == tmp_path / "in"
    assert (dest / "sub/b.txt").read_text() == "b"
    (dest / "a.txt").write_text("changed")  # a copy: the datastore keeps its file
    assert Dataset.get_by_name(ws, "d").to_path() == ["/a.txt", "/sub/b.txt"]
    store_file = Path(ws.get_default_datastore().url.removeprefix("file://")) / "d/a.txt"
    assert store_file.read_text() == "a"


def _writes_as_job_user(dest: Path) -> str:
    """Tries to change dest as the job's user would: the owner of the files.

    Permission bits do not bind root, so when the tests run as root the tree is handed
    to 'nobody' and the attempt runs as that user (through /bin/sh, since the venv's
    python may not be reachable for it)."""
    if os.geteuid() == 0:
        for root, dirs, files in os.walk(dest):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, NOBODY, NOBODY)
    user = {"user": NOBODY, "group": NOBODY} if os.geteuid() == 0 else {}
    script = (
        'test "$(cat "$1/sub/b.txt")" = b || exit 3; '
        'for f in a.txt new.txt; do (echo x > "$1/$f") 2>/dev/null && echo "wrote $f"; done; '
        'rm -f "$1/sub/b.txt" 2>/dev/null && echo "removed b.txt"; echo done'
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(dest)], capture_output=True, text=True, **user
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_mount_is_not_writable(ws, registered, shared_dir):
    entry = registered.as_named_input("d").as_mount()._to_run_data()
    dest = datasets.materialize_input(ws._services, entry, shared_dir / "in")
    assert (dest / "a.txt").stat().st_mode & 0o777 == 0o444
    assert _writes_as_job_user(dest).split() == ["done"]
    assert (dest / "a.txt").read_text() == "a"
    datasets.remove_materialized(dest)
    assert not dest.exists()


def test_download_is_writable_by_the_job_user(ws, registered, shared_dir):
    # The control for the test above: the same attempts succeed on a download.
    entry = registered.as_named_input("d").as_download()._to_run_data()
    dest = datasets.materialize_input(ws._services, entry, shared_dir / "in")
    assert _writes_as_job_user(dest).splitlines() == [
        "wrote a.txt",
        "wrote new.txt",
        "removed b.txt",
        "done",
    ]


def test_mnist_mount_keeps_chainer_layout(ws, tmp_path):
    entry = MNIST.get_file_dataset().as_named_input("mnist").as_mount()._to_run_data()
    dest = datasets.materialize_input(ws._services, entry, tmp_path / "mnist")
    assert sorted(p.name for p in (dest / "pfnet/chainer/mnist").iterdir()) == [
        "test.npz",
        "train.npz",
    ]
    original = MNIST.get_local_path() / "pfnet/chainer/mnist/train.npz"
    assert (dest / "pfnet/chainer/mnist/train.npz").read_bytes() == original.read_bytes()
    datasets.remove_materialized(dest)


def test_unknown_mode_is_refused_before_writing(ws, registered, tmp_path):
    entry = {**registered.as_named_input("d").as_mount()._to_run_data(), "mode": "stream"}
    with pytest.raises(UserErrorException, match=r"mode 'stream' is not supported.*as_mount"):
        datasets.materialize_input(ws._services, entry, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_remove_materialized_deletes_read_only_folders(ws, registered, tmp_path):
    entry = registered.as_named_input("d").as_mount()._to_run_data()
    dest = datasets.materialize_input(ws._services, entry, tmp_path / "m")
    datasets.remove_materialized(dest)
    assert not dest.exists()
