"""run.get_snapshot_id() and run.restore_snapshot(), as v1 has them."""

from __future__ import annotations

import pytest

from runyard.core import Experiment, ScriptRunConfig
from runyard.exceptions import UserErrorException


def test_submitted_run_records_and_restores_its_snapshot(ws, services, source, tmp_path):
    src = source(**{"train.py": "print('hi')\n", "pkg/util.py": "X = 1\n"})
    run = Experiment(ws, "snap").submit(ScriptRunConfig(src, "train.py"))
    run.wait_for_completion()
    snapshot_id = run.get_snapshot_id()
    assert snapshot_id and run.get_properties()["ContentSnapshotId"] == snapshot_id
    out = run.restore_snapshot(path=str(tmp_path / "restored"))
    assert (tmp_path / "restored" / "pkg" / "util.py").read_text() == "X = 1\n"
    assert out == str(tmp_path / "restored")


def test_restore_refuses_a_non_empty_folder_and_writes_nothing(ws, services, source, tmp_path):
    run = Experiment(ws, "snap").submit(ScriptRunConfig(source(**{"train.py": "1\n"}), "train.py"))
    run.wait_for_completion()
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(UserErrorException, match="exists and is not an empty folder"):
        run.restore_snapshot(path=str(target))
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


def test_interactive_run_without_snapshot_says_so(ws):
    run = Experiment(ws, "snap").start_logging(snapshot_directory=None)
    assert run.get_snapshot_id() is None
    with pytest.raises(UserErrorException, match="has no source snapshot"):
        run.restore_snapshot()
    run.complete()
