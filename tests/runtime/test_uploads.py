"""Uploads stay inside their folder (a job's ./outputs and ./logs, upload_folder), and a
name a run already has is refused, as v1 does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runyard._entities import RunStatus
from runyard._services import run_files
from runyard.core import Experiment
from runyard.exceptions import ArtifactExists

pytestmark = pytest.mark.timeout(120)

# The job makes its links, then waits until the agent's live upload of ./logs has named the
# outside link in the driver log (so ./logs is uploaded again afterwards, and at the end).
LINKS_JOB = """
import os, sys, time
os.makedirs('outputs/sub', exist_ok=True)
os.makedirs('logs', exist_ok=True)
open('outputs/real.txt', 'w').write('real')
open('outputs/sub/a.txt', 'w').write('a')
os.symlink('/etc/passwd', 'outputs/x')
os.symlink('/etc', 'outputs/d')
os.symlink('real.txt', 'outputs/inside')
os.symlink('sub', 'outputs/subl')
os.symlink('/etc/hostname', 'logs/host')
log = os.path.join(os.environ['RUNYARD_WORKSPACE_DIR'], 'artifacts', 'runs',
                   os.environ['AZUREML_RUN_ID'], 'azureml-logs', '70_driver_log.txt')
deadline = time.monotonic() + 60
while 'not uploading ./logs/host' not in open(log).read():
    if time.monotonic() > deadline:
        sys.exit('the live upload of ./logs never named logs/host')
    time.sleep(0.05)
open('logs/after.txt', 'w').write('more')
print('job done', flush=True)
"""


def test_a_jobs_links_out_of_outputs_and_logs_are_not_uploaded_and_are_named(
    services, source, submit, wait, driver_log
) -> None:
    info = submit(services, source(**{"train.py": LINKS_JOB}))
    done = wait(services, info.run_id)
    log = driver_log(services, info.run_id)
    assert done.status is RunStatus.COMPLETED, log
    files = run_files.list_files(services, info.run_id)
    assert "outputs/x" not in files and "logs/host" not in files
    assert not [f for f in files if f.startswith("outputs/d/")]
    assert {"outputs/real.txt", "outputs/inside", "outputs/subl/a.txt", "logs/after.txt"} <= set(
        files
    )
    assert run_files.read_file(services, info.run_id, "outputs/inside") == b"real"
    passwd = Path("/etc/passwd").read_bytes()
    assert all(run_files.read_file(services, info.run_id, f) != passwd for f in files)
    assert "not uploading ./outputs/x: it is a symbolic link that points to '/etc/passwd'" in log
    assert "not uploading ./outputs/d: it is a symbolic link that points to '/etc'" in log
    assert "copy the file there instead of linking it" in log
    assert log.count("not uploading ./logs/host") == 1  # live and final uploads: named once


def test_upload_folder_leaves_out_a_link_out_of_the_folder(ws, tmp_path, caplog) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "out").symlink_to(tmp_path / "secret.txt")
    (folder / "in").symlink_to("a.txt")
    run = Experiment(ws, "files").start_logging(snapshot_directory=None)
    with caplog.at_level(logging.WARNING, logger="runyard._services.run_files"):
        run.upload_folder("up", str(folder))
    assert sorted(run.get_file_names()) == ["up/a.txt", "up/in"]
    warning = caplog.text
    assert "left out 1 entries: out is a symbolic link that points to" in warning
    assert repr(str(tmp_path / "secret.txt")) in warning and "outside" in warning
    run.complete()


def test_uploading_to_a_name_the_run_has_is_refused_and_keeps_the_file(ws, tmp_path) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("first")
    second.write_text("second")
    run = Experiment(ws, "files").start_logging(snapshot_directory=None)
    run.upload_file("outputs/model.txt", str(first))
    with pytest.raises(ArtifactExists) as err:
        run.upload_file("outputs/model.txt", str(second))
    message = str(err.value)
    assert f"ArtifactId ExperimentRun/dcid.{run.id}/outputs/model.txt already exists" in message
    assert "Upload under another name" in message
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "new.txt").write_text("new")
    (folder / "model.txt").write_text("third")
    with pytest.raises(ArtifactExists, match="outputs/model.txt already exists"):
        run.upload_folder("outputs", str(folder))
    with pytest.raises(ArtifactExists, match="outputs/twice.txt already exists"):
        run.upload_files(["outputs/twice.txt", "outputs/twice.txt"], [str(first), str(second)])
    assert run.get_file_names() == ["outputs/model.txt"]  # a refused call stores nothing
    out = tmp_path / "back.txt"
    run.download_file("outputs/model.txt", str(out))
    assert out.read_text() == "first"
    run.complete()
