"""Experiment.archive / reactivate / tag and Experiment.list's view_type and tags (v1)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from runyard.core import Experiment, Workspace
from runyard.core.experiment import ViewType
from runyard.exceptions import UserErrorException


def _names(ws, **kw) -> list[str]:
    return [e.name for e in Experiment.list(ws, **kw)]


def test_archived_experiment_is_hidden_by_default_and_listed_on_request(ws):
    keep, old = Experiment(ws, "keep"), Experiment(ws, "old")
    before = datetime.now(timezone.utc)
    old.archive()
    assert old.archived_time is not None and old.archived_time >= before
    assert keep.archived_time is None
    assert _names(ws) == ["keep"]
    assert _names(ws, view_type=ViewType.All) == ["keep", "old"]
    assert _names(ws, view_type=ViewType.ArchivedOnly) == ["old"]
    assert Experiment.list(ws, view_type="ArchivedOnly")[0].archived_time == old.archived_time


def test_archive_survives_reopening_the_workspace(ws):
    Experiment(ws, "old").archive()
    again = Workspace.get(ws.name)
    assert _names(again) == []
    assert Experiment(again, "old").archived_time is not None


def test_reactivate_lists_it_again_and_keeps_its_runs(ws):
    exp = Experiment(ws, "old")
    run = exp.start_logging(snapshot_directory=None)
    run.complete()
    exp.archive()
    first = exp.archived_time
    exp.archive()  # idempotent: the first archived time stays
    assert exp.archived_time == first
    exp.reactivate()
    assert exp.archived_time is None
    assert _names(ws) == ["old"]
    assert [r.id for r in exp.get_runs()] == [run.id]


def test_reactivate_with_new_name_is_refused_and_changes_nothing(ws):
    exp = Experiment(ws, "old")
    exp.archive()
    with pytest.raises(UserErrorException, match="cannot be renamed"):
        exp.reactivate(new_name="renamed")
    exp.refresh()
    assert exp.archived_time is not None
    assert _names(ws, view_type=ViewType.All) == ["old"]


def test_unknown_view_type_lists_the_valid_ones(ws):
    with pytest.raises(UserErrorException, match="'Archived' is not one of ActiveOnly, All"):
        Experiment.list(ws, view_type="Archived")


def test_tags_set_change_and_remove(ws):
    exp = Experiment(ws, "tagged")
    exp.tag("DeploymentCandidate")
    exp.tag("modifiedBy", "Master CI")
    exp.set_tags({"modifiedBy": "release pipeline", "n": 3})
    assert exp.tags == {"DeploymentCandidate": None, "modifiedBy": "release pipeline", "n": "3"}
    exp.remove_tags(["n", "absent"])
    assert Experiment(Workspace.get(ws.name), "tagged").tags == {
        "DeploymentCandidate": None,
        "modifiedBy": "release pipeline",
    }


def test_list_filters_by_tag_key_or_pairs(ws):
    Experiment(ws, "a").set_tags({"team": "vision", "stage": "prod"})
    Experiment(ws, "b").set_tags({"team": "nlp"})
    Experiment(ws, "c")
    assert _names(ws, tags="team") == ["a", "b"]
    assert _names(ws, tags={"team": "vision"}) == ["a"]
    assert _names(ws, tags={"team": "nlp", "stage": "prod"}) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.set_tags(["a"]), "takes a dict of tag -> value, got list"),
        (lambda e: e.tag("", "x"), "non-empty str, got ''"),
        (lambda e: e.remove_tags("team"), "takes a list of tag keys, got str"),
    ],
)
def test_bad_tag_calls_name_the_problem_and_change_nothing(ws, call, message):
    exp = Experiment(ws, "tagged")
    exp.tag("team", "vision")
    with pytest.raises(UserErrorException, match=message):
        call(exp)
    exp.refresh()
    assert exp.tags == {"team": "vision"}
