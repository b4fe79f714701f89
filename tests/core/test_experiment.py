"""Experiment names, get_runs, list, submit dispatch."""

from __future__ import annotations

import pytest

from runyard.core import Experiment
from runyard.exceptions import UserErrorException

V1_TEXT = (
    "Experiment name must be between 1 and 255 characters long. Its first character has to "
    "be alphanumeric, and the rest may contain hyphens and underscores. No whitespace is allowed."
)


@pytest.mark.parametrize("good", ["a", "exp_1", "Exp-2", "9lives", "x" * 255])
def test_good_names(ws, good):
    exp = Experiment(ws, good)
    assert exp.name == good and exp.id
    assert [e.name for e in Experiment.list(ws, experiment_name=good)] == [good]


@pytest.mark.parametrize("bad", ["", "_x", "-x", "has space", "dot.name", "x" * 256, "é"])
def test_bad_names_raise_v1_message_and_create_nothing(ws, bad):
    with pytest.raises(UserErrorException) as err:
        Experiment(ws, bad)
    assert V1_TEXT in str(err.value)
    assert repr(bad) in str(err.value)
    assert Experiment.list(ws) == []


def test_get_runs_newest_first_top_level_only(ws):
    exp = Experiment(ws, "runs")
    first = exp.start_logging(snapshot_directory=None)
    second = exp.start_logging(snapshot_directory=None)
    child = second.child_run()
    assert [r.id for r in exp.get_runs()] == [second.id, first.id]
    with_children = [r.id for r in exp.get_runs(include_children=True)]
    assert set(with_children) == {first.id, second.id, child.id}
    first.tag("keep", "yes")
    assert [r.id for r in exp.get_runs(tags={"keep": "yes"})] == [first.id]


def test_start_logging_run_is_running_with_v1_id_and_number(ws):
    exp = Experiment(ws, "numbers")
    runs = [exp.start_logging(snapshot_directory=None) for _ in range(3)]
    assert [r.number for r in runs] == [1, 2, 3]
    assert runs[0].get_status() == "Running"
    head, epoch, tail = runs[0].id.rsplit("_", 2)
    assert head == "numbers" and epoch.isdigit() and len(tail) == 8


def test_start_logging_snapshots_the_directory(ws, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("print(1)\n")
    run = Experiment(ws, "snap").start_logging(snapshot_directory=str(src))
    snapshot_id = run.get_details()["runDefinition"]["snapshotId"]
    assert (ws._layout.snapshots_dir / "manifests" / f"{snapshot_id}.json").is_file()


def test_start_logging_rejects_unknown_kwargs(ws):
    with pytest.raises(UserErrorException, match=r"unexpected arguments \['colour'\]"):
        Experiment(ws, "kw").start_logging(snapshot_directory=None, colour="red")
    assert list(Experiment(ws, "kw").get_runs()) == []


def test_submit_unsupported_config_lists_what_is_supported(ws):
    exp = Experiment(ws, "sub")
    with pytest.raises(UserErrorException) as err:
        exp.submit({"script": "train.py"})
    assert "got a dict" in str(err.value) and "ScriptRunConfig" in str(err.value)
    assert list(exp.get_runs()) == []


def test_start_logging_tracks_outputs_and_uploads_them_when_the_run_ends(ws):
    from pathlib import Path

    exp = Experiment(ws, "outs")
    run = exp.start_logging(snapshot_directory=None)
    assert Path("outputs").is_dir()  # v1 creates it, so open('outputs/x', 'w') just works
    Path("outputs/model.pkl").write_bytes(b"model")
    (Path("outputs") / "sub").mkdir()
    Path("outputs/sub/notes.txt").write_text("n")
    run.complete()
    assert run.get_file_names() == ["outputs/model.pkl", "outputs/sub/notes.txt"]
    assert run.register_model("from-outputs", "outputs/model.pkl").version == 1

    with pytest.raises(ValueError), exp.start_logging(snapshot_directory=None) as failed:
        Path("outputs/model.pkl").write_bytes(b"partial")
        raise ValueError("boom")
    assert failed.get_status() == "Failed"
    assert "outputs/model.pkl" in failed.get_file_names()


def test_start_logging_outputs_false_or_another_folder(ws):
    from pathlib import Path

    exp = Experiment(ws, "outs-custom")
    quiet = exp.start_logging(snapshot_directory=None, outputs=False)
    quiet.complete()
    assert not Path("outputs").exists() and quiet.get_file_names() == []
    custom = exp.start_logging(snapshot_directory=None, outputs="results")
    Path("results/r.txt").write_text("r")
    custom.complete()
    assert custom.get_file_names() == ["results/r.txt"]


def test_start_logging_outputs_that_is_a_file_is_refused_before_any_run(ws):
    from pathlib import Path

    Path("outputs").write_text("not a folder")
    exp = Experiment(ws, "outs-file")
    with pytest.raises(UserErrorException, match="'outputs' is a file; pass outputs="):
        exp.start_logging(snapshot_directory=None)
    assert list(exp.get_runs()) == []


def test_start_logging_snapshot_too_big_says_how_to_skip_it(runyard_home, monkeypatch):
    from pathlib import Path

    from runyard.core import Workspace
    from runyard.exceptions import SnapshotException

    monkeypatch.setenv("RUNYARD_SNAPSHOT_MAX_FILES", "2")
    ws = Workspace.create("snap-ws", show_output=False)
    for i in range(3):
        Path(f"data{i}.csv").write_text("x")
    exp = Experiment(ws, "snap")
    with pytest.raises(SnapshotException, match=r"snapshot_directory=None to start_logging"):
        exp.start_logging()
    assert list(exp.get_runs()) == []
    exp.start_logging(snapshot_directory=None).complete()
