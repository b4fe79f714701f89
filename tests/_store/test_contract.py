"""One contract for every Store implementation, run on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time
from datetime import timezone

import pytest

from runyard._entities import (
    ErrorCode,
    JobRef,
    MetricKind,
    MetricPoint,
    RunError,
    RunRuntime,
    RunStatus,
)
from runyard._store.base import Store
from runyard.exceptions import (
    ComputeTargetException,
    ComputeTargetExists,
    ComputeTargetNotFound,
    DatasetExists,
    DatasetNotFound,
    DatastoreExists,
    DatastoreNotFound,
    EnvironmentNotFound,
    ExperimentNotFound,
    ImmutablePropertyError,
    InvalidStatusTransition,
    MetricTypeConflict,
    ModelNotFoundException,
    ModelPropertyImmutable,
    RunIdAlreadyExists,
    RunNotFound,
    ServiceExists,
    ServiceNotFound,
    WebserviceException,
)


def make_run(store: Store, run_id: str, experiment: str = "exp", **kwargs):
    kwargs.setdefault("status", RunStatus.QUEUED)
    kwargs.setdefault("run_type", "azureml.scriptrun")
    return store.create_run(run_id=run_id, experiment_name=experiment, **kwargs)


def point(name, value, kind=MetricKind.SCALAR, **kwargs):
    return MetricPoint(name=name, kind=kind, value=value, time=time.time(), **kwargs)


class TestExperiments:
    def test_get_or_create_is_idempotent(self, store):
        first = store.get_or_create_experiment("exp")
        again = store.get_or_create_experiment("exp")
        assert first == again
        assert first.created_time.tzinfo == timezone.utc

    def test_list_experiments_ordered_by_name(self, store):
        for name in ("b", "c", "a"):
            store.get_or_create_experiment(name)
        assert [e.name for e in store.list_experiments()] == ["a", "b", "c"]

    def test_get_missing_experiment_names_it(self, store):
        with pytest.raises(ExperimentNotFound, match=r"No experiment named 'nope'.*Experiment"):
            store.get_experiment("nope")
        assert store.list_experiments() == []

    def test_update_experiment_merges_tags_and_archives_once(self, store):
        store.get_or_create_experiment("exp")
        tagged = store.update_experiment("exp", set_tags={"a": "1", "b": "2"})
        assert dict(tagged.tags) == {"a": "1", "b": "2"} and tagged.archived_time is None
        # New values merge over old ones, None is a tag without a value (v1's
        # experiment.tag(key)), remove_tags drops keys.
        changed = store.update_experiment(
            "exp", set_tags={"a": "3", "b": None, "c": "4"}, remove_tags=["c"]
        )
        assert dict(changed.tags) == {"a": "3", "b": None}
        archived = store.update_experiment("exp", archived=True)
        assert archived.archived_time is not None
        assert archived.archived_time.tzinfo == timezone.utc
        # Archiving again keeps the first archived_time; reactivating clears it.
        again = store.update_experiment("exp", archived=True)
        assert again.archived_time == archived.archived_time
        assert store.get_experiment("exp").archived_time == archived.archived_time
        active = store.update_experiment("exp", archived=False)
        assert active.archived_time is None and dict(active.tags) == {"a": "3", "b": None}
        assert store.get_experiment("exp") == active

    def test_update_missing_experiment_names_it(self, store):
        with pytest.raises(ExperimentNotFound, match="'ghost'"):
            store.update_experiment("ghost", set_tags={"a": "1"})
        assert store.list_experiments() == []


class TestRuns:
    def test_create_run_numbers_per_experiment(self, store):
        assert [make_run(store, f"r{i}").number for i in range(3)] == [1, 2, 3]
        assert make_run(store, "other", experiment="exp2").number == 1
        assert store.get_experiment("exp2").name == "exp2"

    def test_create_run_fields_round_trip(self, store):
        run = make_run(
            store,
            "r1",
            target="cpu",
            display_name="dn",
            description="desc",
            tags={"a": "1", "flag": None},
            properties={"p": "v"},
            definition={"script": "train.py", "arguments": ["--lr", "0.1"]},
        )
        assert store.get_run("r1") == run
        assert (run.status, run.target, run.display_name) == (RunStatus.QUEUED, "cpu", "dn")
        assert run.tags == {"a": "1", "flag": None}
        assert run.definition["arguments"] == ["--lr", "0.1"]
        assert run.created_time.tzinfo == timezone.utc
        assert run.start_time is None and run.end_time is None

    def test_created_running_sets_start_time(self, store):
        run = make_run(store, "r1", status=RunStatus.RUNNING)
        assert run.start_time is not None and run.start_time.tzinfo == timezone.utc

    def test_create_run_with_missing_parent_stores_nothing(self, store):
        with pytest.raises(RunNotFound, match=r"No run with id 'ghost'.*runyard runs list"):
            make_run(store, "child", parent_run_id="ghost")
        assert store.list_runs(include_children=True) == []

    def test_create_run_duplicate_id_refused(self, store):
        make_run(store, "r1")
        with pytest.raises(RunIdAlreadyExists, match=r"'r1' already exists.*another id"):
            make_run(store, "r1", experiment="other")
        assert [r.run_id for r in store.list_runs(include_children=True)] == ["r1"]
        assert make_run(store, "r2").number == 2

    def test_get_missing_run(self, store):
        with pytest.raises(RunNotFound, match="No run with id 'missing'"):
            store.get_run("missing")

    def test_list_runs_newest_first_and_filters(self, store):
        make_run(store, "a", tags={"t": "1"}, properties={"p": "x"})
        make_run(store, "b", status=RunStatus.RUNNING, run_type="interactive")
        make_run(store, "c", experiment="other", tags={"t": "2"})
        make_run(store, "a1", parent_run_id="a")
        ids = lambda runs: [r.run_id for r in runs]  # noqa: E731
        assert ids(store.list_runs()) == ["c", "b", "a"]
        assert ids(store.list_runs(include_children=True)) == ["a1", "c", "b", "a"]
        assert ids(store.list_runs(experiment_name="exp")) == ["b", "a"]
        assert ids(store.list_runs(parent_run_id="a")) == ["a1"]
        assert ids(store.list_runs(statuses=[RunStatus.RUNNING])) == ["b"]
        assert ids(store.list_runs(run_type="interactive")) == ["b"]
        assert ids(store.list_runs(tags={"t": "2"})) == ["c"]
        assert ids(store.list_runs(tags={"t": None})) == ["c", "a"]
        assert ids(store.list_runs(tags=["t"])) == ["c", "a"]
        assert ids(store.list_runs(properties={"p": "x"})) == ["a"]
        assert ids(store.list_runs(properties=["nope"])) == []


class TestStatus:
    def test_running_sets_start_terminal_sets_end(self, store):
        make_run(store, "r1")
        running = store.set_run_status("r1", RunStatus.RUNNING)
        assert running.status is RunStatus.RUNNING and running.start_time is not None
        done = store.set_run_status("r1", RunStatus.COMPLETED)
        assert done.end_time is not None and done.start_time == running.start_time

    def test_error_is_stored(self, store):
        make_run(store, "r1")
        err = RunError(ErrorCode.USER_ERROR, "boom", exit_code=2, last_error_lines=("a", "b"))
        assert store.set_run_status("r1", RunStatus.FAILED, error=err).error == err
        assert store.get_run("r1").error == err
        assert isinstance(store.get_run("r1").error.code, ErrorCode)

    def test_error_code_of_a_user_stays_a_string(self, store):
        make_run(store, "r1")
        store.set_run_status("r1", RunStatus.FAILED, error=RunError("MyCode", "x"))
        assert store.get_run("r1").error == RunError("MyCode", "x")

    def test_leaving_terminal_status_raises_and_changes_nothing(self, store):
        make_run(store, "r1")
        failed = store.set_run_status("r1", RunStatus.FAILED, error=RunError("UserError", "x"))
        with pytest.raises(
            InvalidStatusTransition, match=r"'r1' is already Failed; it cannot move to Running"
        ):
            store.set_run_status("r1", RunStatus.RUNNING)
        assert store.get_run("r1") == failed

    def test_same_terminal_status_is_noop(self, store):
        make_run(store, "r1")
        done = store.set_run_status("r1", RunStatus.COMPLETED)
        assert store.set_run_status("r1", RunStatus.COMPLETED) == done

    def test_compare_and_set(self, store):
        make_run(store, "r1")
        claimed = store.set_run_status("r1", RunStatus.PREPARING, expected=[RunStatus.QUEUED])
        assert claimed.status is RunStatus.PREPARING
        again = store.set_run_status("r1", RunStatus.PREPARING, expected=[RunStatus.QUEUED])
        assert again is None
        assert store.get_run("r1").status is RunStatus.PREPARING

    def test_status_change_merges_runtime_in_the_same_write(self, store):
        make_run(store, "r1")
        store.update_run("r1", runtime=RunRuntime(workdir="/w"))
        moved = store.set_run_status(
            "r1", RunStatus.PREPARING, expected=[RunStatus.QUEUED], runtime=RunRuntime(agent_pid=7)
        )
        assert moved.runtime == RunRuntime(agent_pid=7, workdir="/w")
        lost = store.set_run_status(
            "r1", RunStatus.RUNNING, expected=[RunStatus.QUEUED], runtime=RunRuntime(agent_pid=8)
        )
        assert lost is None and store.get_run("r1").runtime == moved.runtime

    def test_compare_and_set_on_terminal_run_returns_none(self, store):
        make_run(store, "r1")
        canceled = store.set_run_status("r1", RunStatus.CANCELED)
        assert store.set_run_status("r1", RunStatus.RUNNING, expected=[RunStatus.QUEUED]) is None
        assert store.get_run("r1") == canceled

    def test_status_of_missing_run(self, store):
        with pytest.raises(RunNotFound, match="'nope'"):
            store.set_run_status("nope", RunStatus.RUNNING)


class TestRunFields:
    def test_update_run_merges(self, store):
        make_run(store, "r1", definition={"script": "a.py", "args": []})
        job = JobRef(backend="local", job_id="1")
        store.update_run("r1", runtime=RunRuntime(job=job, agent_pid=7))
        run = store.update_run(
            "r1",
            display_name="n",
            definition={"args": ["x"]},
            runtime=RunRuntime(workdir="/w", agent_pid=8),
        )
        assert run.display_name == "n" and run.description is None
        assert run.definition == {"script": "a.py", "args": ["x"]}
        assert run.runtime == RunRuntime(job=job, agent_pid=8, workdir="/w")
        assert store.get_run("r1") == run

    def test_agent_managed_flag_is_stored_and_filters(self, store):
        make_run(store, "m1", agent_managed=True)
        make_run(store, "i1")
        assert store.get_run("m1").agent_managed and not store.get_run("i1").agent_managed
        assert [r.run_id for r in store.list_runs(agent_managed=True)] == ["m1"]
        assert [r.run_id for r in store.list_runs(agent_managed=False)] == ["i1"]

    def test_tags_set_and_remove(self, store):
        make_run(store, "r1", tags={"a": "1"})
        store.set_tags("r1", {"b": "2", "a": "3"})
        assert store.remove_tags("r1", ["a", "zz"]).tags == {"b": "2"}
        assert store.get_run("r1").tags == {"b": "2"}

    def test_properties_are_immutable(self, store):
        make_run(store, "r1", properties={"k": "v"})
        assert store.add_properties("r1", {"k": "v", "n": "1"}).properties == {"k": "v", "n": "1"}
        with pytest.raises(
            ImmutablePropertyError,
            match=r"Property 'k' of run 'r1' is already 'v'.*tried 'w'.*run.tag",
        ):
            store.add_properties("r1", {"new": "x", "k": "w"})
        assert store.get_run("r1").properties == {"k": "v", "n": "1"}

    def test_update_missing_run(self, store):
        for call in (
            lambda: store.update_run("nope", display_name="x"),
            lambda: store.set_tags("nope", {"a": "b"}),
            lambda: store.remove_tags("nope", ["a"]),
            lambda: store.add_properties("nope", {"a": "b"}),
        ):
            with pytest.raises(RunNotFound, match="'nope'"):
                call()


class TestMetrics:
    def test_points_come_back_in_order_per_name(self, store):
        make_run(store, "r1")
        store.log_metrics("r1", [point("loss", 0.5), point("acc", 1), point("loss", 0.25)])
        store.log_metrics("r1", [point("loss", 0.125, description="training loss")])
        metrics = store.get_metrics("r1")
        assert list(metrics) == ["loss", "acc"]
        assert metrics["loss"].values == [0.5, 0.25, 0.125]
        assert metrics["loss"].description == "training loss"
        assert metrics["acc"].values == [1] and metrics["acc"].kind is MetricKind.SCALAR
        assert list(store.get_metrics("r1", ["acc"])) == ["acc"]

    def test_special_floats_and_types_round_trip(self, store):
        make_run(store, "r1")
        floats = [1.5, math.nan, math.inf, -math.inf, -0.0, 1e308]
        mixed = [1, True, False, "text", 2.5, math.nan, 2**70, -(2**63)]
        store.log_metrics("r1", [point("f", v) for v in floats] + [point("m", v) for v in mixed])
        metrics = store.get_metrics("r1")
        got = metrics["f"].values
        assert math.isnan(got[1]) and got[2] == math.inf and got[3] == -math.inf
        assert [got[0], got[4], got[5]] == [1.5, -0.0, 1e308]
        m = metrics["m"].values
        assert [type(v) for v in m] == [int, bool, bool, str, float, float, int, int]
        assert m[:5] == [1, True, False, "text", 2.5] and math.isnan(m[5])
        assert m[6:] == [2**70, -(2**63)]

    def test_single_type_series(self, store):
        make_run(store, "r1")
        store.log_metrics(
            "r1",
            [point("i", 3), point("i", 4), point("b", True), point("s", "x"), point("s", "y")],
        )
        metrics = store.get_metrics("r1")
        assert (metrics["i"].values, metrics["b"].values) == ([3, 4], [True])
        assert metrics["s"].values == ["x", "y"]

    def test_table_list_and_image_kinds(self, store):
        make_run(store, "r1")
        rows = [{"epoch": 1, "loss": math.nan, "tag": "a"}, {"epoch": 2, "loss": 0.5, "tag": "b"}]
        store.log_metrics(
            "r1",
            [point("t", row, MetricKind.TABLE) for row in rows]
            + [point("l", v, MetricKind.LIST) for v in (1, 2.5, "x")]
            + [point("img", "outputs/plot.png", MetricKind.IMAGE)],
        )
        metrics = store.get_metrics("r1")
        assert metrics["t"].kind is MetricKind.TABLE
        assert math.isnan(metrics["t"].values[0]["loss"])
        assert metrics["t"].values[1] == rows[1]
        assert metrics["l"].values == [1, 2.5, "x"] and metrics["l"].kind is MetricKind.LIST
        assert metrics["img"].values == ["outputs/plot.png"]

    def test_kind_conflict_stores_nothing_of_the_batch(self, store):
        make_run(store, "r1")
        store.log_metrics("r1", [point("loss", 1.0)], spool_offset=10)
        with pytest.raises(
            MetricTypeConflict,
            match=r"'loss' of run 'r1' was logged as a scalar.*also be logged as a list",
        ):
            store.log_metrics(
                "r1",
                [point("new", 1.0), point("loss", 2.0), point("loss", 3.0, MetricKind.LIST)],
                spool_offset=99,
            )
        assert {k: v.values for k, v in store.get_metrics("r1").items()} == {"loss": [1.0]}
        assert store.get_spool_offset("r1") == 10

    def test_kind_conflict_inside_one_new_batch(self, store):
        make_run(store, "r1")
        with pytest.raises(MetricTypeConflict, match="'m' of run 'r1' was logged as a table"):
            store.log_metrics("r1", [point("m", {"a": 1}, MetricKind.TABLE), point("m", 1.0)])
        assert store.get_metrics("r1") == {}

    def test_spool_offset(self, store):
        make_run(store, "r1")
        assert store.get_spool_offset("r1") == 0
        store.log_metrics("r1", [point("a", 1.0)], spool_offset=40)
        store.log_metrics("r1", [], spool_offset=55)
        store.log_metrics("r1", [point("a", 2.0)])
        assert store.get_spool_offset("r1") == 55
        assert store.get_metrics("r1")["a"].values == [1.0, 2.0]

    def test_each_spool_of_a_run_keeps_its_own_offset(self, store):
        make_run(store, "r1")
        assert store.get_spool_offset("r1", "rank1") == 0
        store.log_metrics("r1", [point("a", 1.0)], spool_offset=40)
        store.log_metrics("r1", [point("a", 2.0)], spool_offset=70, spool="rank1")
        store.log_metrics("r1", [point("a", 3.0)], spool_offset=90, spool="rank1")
        store.log_metrics("r1", [point("a", 4.0)], spool_offset=30, spool="rank2")
        offsets = [store.get_spool_offset("r1", s) for s in (None, "rank1", "rank2")]
        assert offsets == [40, 90, 30]
        assert store.get_metrics("r1")["a"].values == [1.0, 2.0, 3.0, 4.0]

    def test_metrics_of_missing_run(self, store):
        with pytest.raises(RunNotFound, match="'nope'"):
            store.log_metrics("nope", [point("a", 1.0)])
        with pytest.raises(RunNotFound, match="'nope'"):
            store.get_metrics("nope")
        with pytest.raises(RunNotFound, match="'nope'"):
            store.get_spool_offset("nope")


class TestModels:
    def register(self, store, name="m", **kwargs):
        return store.create_model_version(
            name=name, artifact_prefix=f"models/{name}", model_path="model.pkl", **kwargs
        )

    def test_versions_increment_per_name(self, store):
        assert [self.register(store).version for _ in range(3)] == [1, 2, 3]
        assert self.register(store, "other").version == 1

    def test_fields_round_trip(self, store):
        model = self.register(
            store,
            tags={"a": "1"},
            properties={"p": "x"},
            description="d",
            run_id="r1",
            experiment_name="exp",
            model_framework="ScikitLearn",
            model_framework_version="1.4",
        )
        assert store.get_model("m", 1) == model
        assert model.id == "m:1" and model.created_time.tzinfo == timezone.utc

    def test_get_latest(self, store):
        for _ in range(3):
            self.register(store)
        assert store.get_model("m").version == 3
        store.delete_model("m", 3)
        assert store.get_model("m").version == 2
        assert self.register(store).version == 4

    def test_missing_model_messages(self, store):
        with pytest.raises(ModelNotFoundException, match=r"ModelNotFound: no model 'x'.*list"):
            store.get_model("x")
        self.register(store, "x")
        with pytest.raises(
            ModelNotFoundException,
            match=r"no model 'x' version 7.*Versions of 'x' that exist: \[1\]",
        ):
            store.get_model("x", 7)
        with pytest.raises(ModelNotFoundException, match="'x' version 2"):
            store.delete_model("x", 2)
        assert [m.id for m in store.list_models()] == ["x:1"]

    def test_list_filters_and_latest(self, store):
        self.register(store, "b", tags={"stage": "dev"})
        self.register(store, "b", tags={"stage": "prod"}, run_id="r9")
        self.register(store, "a", properties={"k": "v"})
        ids = lambda models: [m.id for m in models]  # noqa: E731
        assert ids(store.list_models()) == ["a:1", "b:2", "b:1"]
        assert ids(store.list_models(latest=True)) == ["a:1", "b:2"]
        assert ids(store.list_models(name="b")) == ["b:2", "b:1"]
        assert ids(store.list_models(tags={"stage": "dev"})) == ["b:1"]
        assert ids(store.list_models(tags=["stage"])) == ["b:2", "b:1"]
        assert ids(store.list_models(properties={"k": None})) == ["a:1"]
        assert ids(store.list_models(run_id="r9")) == ["b:2"]

    def test_update_model(self, store):
        self.register(store, tags={"a": "1", "b": "2"}, properties={"p": "x"})
        updated = store.update_model(
            "m",
            1,
            description="new",
            add_tags={"c": "3"},
            remove_tags=["a"],
            add_properties={"q": "y"},
        )
        assert updated.tags == {"b": "2", "c": "3"} and updated.description == "new"
        assert updated.properties == {"p": "x", "q": "y"}
        assert store.get_model("m", 1) == updated

    def test_update_model_property_is_immutable(self, store):
        before = self.register(store, properties={"p": "x"})
        with pytest.raises(
            ModelPropertyImmutable, match=r"Property 'p' of model 'm:1' is already 'x'.*'z'"
        ):
            store.update_model("m", 1, description="changed", add_properties={"p": "z"})
        assert store.get_model("m", 1) == before


class TestConcurrency:
    def test_eight_processes_create_runs_without_gaps(self, store, store_uri, run_workers):
        jobs = [["create_run", "exp", f"run_{i}"] for i in range(8)]
        assert sorted(run_workers(jobs, store_uri)) == list(range(1, 9))
        runs = store.list_runs(experiment_name="exp")
        assert sorted(r.number for r in runs) == list(range(1, 9))
        assert len(store.list_experiments()) == 1

    def test_eight_processes_register_one_name(self, store, store_uri, run_workers):
        versions = run_workers([["register", "shared"] for _ in range(8)], store_uri)
        assert sorted(versions) == list(range(1, 9))
        assert sorted(m.version for m in store.list_models(name="shared")) == list(range(1, 9))

    def test_eight_processes_log_to_eight_runs(self, store, store_uri, run_workers):
        for i in range(8):
            make_run(store, f"run_{i}", status=RunStatus.RUNNING)
        run_workers([["log", f"run_{i}", "200"] for i in range(8)], store_uri)
        for i in range(8):
            assert store.get_metrics(f"run_{i}")["loss"].values == [float(j) for j in range(200)]
            assert store.get_spool_offset(f"run_{i}") == 200

    def test_eight_processes_register_one_dataset_name(self, store, store_uri, run_workers):
        versions = run_workers([["register_dataset", "digits"] for _ in range(8)], store_uri)
        assert sorted(versions) == list(range(1, 9))
        assert store.get_dataset("digits").version == 8
        ids = {store.get_dataset("digits", v).id for v in range(1, 9)}
        assert len(ids) == 8

    def test_eight_processes_save_the_same_environment_once(self, store, store_uri, run_workers):
        versions = run_workers([["save_environment", "env", "same"] for _ in range(8)], store_uri)
        assert versions == ["1"] * 8
        assert [(e.name, e.version) for e in store.list_environments()] == [("env", "1")]

    def test_eight_processes_save_different_environments(self, store, store_uri, run_workers):
        jobs = [["save_environment", "env", f"content{i}"] for i in range(8)]
        versions = run_workers(jobs, store_uri)
        assert sorted(int(v) for v in versions) == list(range(1, 9))


class TestEnvironments:
    def test_versions_count_up_and_same_content_keeps_version(self, store):
        assert store.save_environment("env", '{"a": 1}', "h1") == "1"
        assert store.save_environment("env", '{"a": 1}', "h1") == "1"
        assert store.save_environment("env", '{"a": 2}', "h2") == "2"
        # Back to the first content: a new version, since only the latest is compared.
        assert store.save_environment("env", '{"a": 1}', "h1") == "3"

    def test_get_latest_and_by_version(self, store):
        store.save_environment("env", '{"a": 1}', "h1")
        store.save_environment("env", '{"a": 2}', "h2")
        latest = store.get_environment("env")
        assert (latest.version, latest.definition_json, latest.content_hash) == (
            "2",
            '{"a": 2}',
            "h2",
        )
        assert store.get_environment("env", "1").definition_json == '{"a": 1}'
        assert latest.created_time.tzinfo == timezone.utc

    def test_missing_environment_and_version(self, store):
        store.save_environment("env", "{}", "h")
        with pytest.raises(EnvironmentNotFound, match=r"No environment named 'nope'.*register"):
            store.get_environment("nope")
        with pytest.raises(EnvironmentNotFound, match=r"No version '7' of environment 'env'"):
            store.get_environment("env", "7")
        with pytest.raises(EnvironmentNotFound, match=r"version 'x' of environment 'env'"):
            store.get_environment("env", "x")
        assert [e.version for e in store.list_environments()] == ["1"]

    def test_labels_name_one_version_and_move(self, store):
        store.save_environment("env", '{"a": 1}', "h1")
        store.save_environment("env", '{"a": 2}', "h2")
        store.label_environment("env", "1", ["production", "stable"])
        assert store.get_environment("env", label="production").version == "1"
        store.label_environment("env", "2", ["production"])
        assert store.get_environment("env", label="production").version == "2"
        assert store.get_environment("env", label="stable").version == "1"

    def test_missing_label_and_labelling_a_missing_version_change_nothing(self, store):
        store.save_environment("env", "{}", "h")
        store.label_environment("env", "1", ["prod"])
        with pytest.raises(EnvironmentNotFound, match=r"labelled 'canary'.*Environment.label"):
            store.get_environment("env", label="canary")
        with pytest.raises(EnvironmentNotFound, match=r"No version '9' of environment 'env'"):
            store.label_environment("env", "9", ["prod"])
        assert store.get_environment("env", label="prod").version == "1"

    def test_list_has_latest_of_each_name(self, store):
        store.save_environment("b", "{}", "h")
        store.save_environment("a", "{}", "h")
        store.save_environment("b", "{1}", "h2")
        assert [(e.name, e.version) for e in store.list_environments()] == [("a", "1"), ("b", "2")]


class TestComputeTargets:
    def test_create_get_list(self, store):
        created = store.create_compute_target(
            name="gpu", compute_type="AmlCompute", config={"vm_size": "STANDARD_NC6"}
        )
        assert (created.provisioning_state, created.state) == ("Creating", {})
        assert created.created_time == created.modified_time
        store.create_compute_target(name="cpu", compute_type="AmlCompute", config={})
        assert store.get_compute_target("gpu") == created
        assert [t.name for t in store.list_compute_targets()] == ["cpu", "gpu"]

    def test_create_twice_raises_and_keeps_the_first(self, store):
        store.create_compute_target(name="gpu", compute_type="AmlCompute", config={"a": 1})
        with pytest.raises(ComputeTargetExists, match=r"'gpu' already exists.*ComputeTarget"):
            store.create_compute_target(name="gpu", compute_type="AmlCompute", config={"a": 2})
        assert store.get_compute_target("gpu").config == {"a": 1}

    def test_update_merges_and_sets_modified_time(self, store):
        store.create_compute_target(name="c", compute_type="AmlCompute", config={"a": 1, "b": 2})
        updated = store.update_compute_target(
            "c", config={"b": 3}, state={"nodes": 2}, provisioning_state="Succeeded"
        )
        assert updated.config == {"a": 1, "b": 3}
        assert updated.state == {"nodes": 2}
        assert updated.provisioning_state == "Succeeded"
        assert updated.modified_time > updated.created_time
        again = store.update_compute_target("c", state={"idle": True})
        assert again.state == {"nodes": 2, "idle": True}

    def test_missing_target_has_v1_text(self, store):
        with pytest.raises(ComputeTargetNotFound) as info:
            store.get_compute_target("nope")
        assert isinstance(info.value, ComputeTargetException)
        assert str(info.value).startswith(
            "ComputeTargetNotFound: Compute Target with name nope not found in provided workspace"
        )
        assert "ComputeTarget.create(ws, 'nope'" in str(info.value)
        with pytest.raises(ComputeTargetNotFound):
            store.update_compute_target("nope", state={"x": 1})
        with pytest.raises(ComputeTargetNotFound):
            store.delete_compute_target("nope")
        assert store.list_compute_targets() == []

    def test_delete(self, store):
        store.create_compute_target(name="c", compute_type="AmlCompute", config={})
        store.delete_compute_target("c")
        assert store.list_compute_targets() == []
        store.create_compute_target(name="c", compute_type="AmlCompute", config={})


class TestServices:
    def test_create_get_list(self, store):
        created = store.create_service(
            name="svc-b", compute_type="ACI", spec={"models": ["m:1"]}, state={"port": 1234}
        )
        assert (created.status, created.generation, created.state) == (
            "Transitioning",
            1,
            {"port": 1234},
        )
        store.create_service(name="svc-a", compute_type="Local", spec={})
        assert store.get_service("svc-b") == created
        assert [s.name for s in store.list_services()] == ["svc-a", "svc-b"]

    def test_existing_name_is_refused_unless_overwrite(self, store):
        store.create_service(name="svc", compute_type="ACI", spec={"a": 1}, state={"port": 5})
        with pytest.raises(ServiceExists, match=r"already a service with name svc.*overwrite"):
            store.create_service(name="svc", compute_type="ACI", spec={"a": 2})
        assert store.get_service("svc").spec == {"a": 1}
        store.update_service("svc", status="Healthy")
        again = store.create_service(
            name="svc", compute_type="ACI", spec={"b": 2}, state={"x": 1}, overwrite=True
        )
        # the spec is replaced, the served state (port, keys) kept, the generation bumped
        assert (again.spec, again.state) == ({"b": 2}, {"port": 5, "x": 1})
        assert (again.status, again.generation) == ("Transitioning", 2)

    def test_update_merges_and_checks_the_generation(self, store):
        store.create_service(name="svc", compute_type="ACI", spec={"a": 1, "b": 2})
        updated = store.update_service(
            "svc", spec={"b": 3}, state={"pid": 7}, status="Healthy", new_generation=True
        )
        assert updated is not None
        assert (updated.spec, updated.state, updated.status) == (
            {"a": 1, "b": 3},
            {"pid": 7},
            "Healthy",
        )
        assert updated.generation == 2 and updated.modified_time > updated.created_time
        assert store.update_service("svc", status="Failed", expected_generation=1) is None
        assert store.get_service("svc").status == "Healthy"
        assert store.update_service("svc", status="Failed", expected_generation=2) is not None

    def test_missing_service_names_the_others(self, store):
        store.create_service(name="there", compute_type="ACI", spec={})
        with pytest.raises(ServiceNotFound) as info:
            store.get_service("nope")
        assert isinstance(info.value, WebserviceException)
        assert "nope not found" in str(info.value) and "there" in str(info.value)
        with pytest.raises(ServiceNotFound):
            store.update_service("nope", status="Healthy")
        store.delete_service("there")
        assert store.list_services() == []
        with pytest.raises(ServiceNotFound):
            store.delete_service("there")


class TestDatastores:
    def register(self, store, name, **kwargs):
        config = {"url": f"file:///data/{name}"}
        return store.register_datastore(
            name=name, datastore_type="LocalFolder", config=config, **kwargs
        )

    def test_first_datastore_is_the_default(self, store):
        assert store.get_default_datastore() is None
        first = self.register(store, "a")
        assert first.is_default
        second = self.register(store, "b")
        assert not second.is_default
        assert store.get_default_datastore().name == "a"

    def test_set_default_moves_it(self, store):
        self.register(store, "a")
        self.register(store, "b")
        assert store.set_default_datastore("b").is_default
        assert [(d.name, d.is_default) for d in store.list_datastores()] == [
            ("a", False),
            ("b", True),
        ]
        self.register(store, "c", set_default=True)
        assert store.get_default_datastore().name == "c"

    def test_existing_name_needs_overwrite(self, store):
        self.register(store, "a")
        with pytest.raises(DatastoreExists, match=r"'a' is already registered.*overwrite=True"):
            store.register_datastore(name="a", datastore_type="S3", config={"url": "s3://x"})
        assert store.get_datastore("a").datastore_type == "LocalFolder"
        replaced = store.register_datastore(
            name="a", datastore_type="S3", config={"url": "s3://x"}, overwrite=True
        )
        assert (replaced.datastore_type, replaced.config, replaced.is_default) == (
            "S3",
            {"url": "s3://x"},
            True,
        )

    def test_missing_datastore_lists_existing(self, store):
        self.register(store, "a")
        with pytest.raises(DatastoreNotFound, match=r"No datastore named 'nope'.*\['a'\]"):
            store.get_datastore("nope")
        with pytest.raises(DatastoreNotFound, match="ws.get_default_datastore"):
            store.set_default_datastore("nope")
        assert store.get_default_datastore().name == "a"


class TestDatasets:
    DEF = {"type": "File", "paths": [{"datastore": "ws", "path": "digits/**"}]}

    def test_register_first_version_fields(self, store):
        info = store.register_dataset(
            name="digits", definition=self.DEF, description="d", tags={"k": "v"}
        )
        assert (info.name, info.version, info.description, info.tags) == (
            "digits",
            1,
            "d",
            {"k": "v"},
        )
        assert info.definition == self.DEF
        assert store.get_dataset_by_id(info.id) == info
        assert store.get_dataset("digits") == info

    def test_same_definition_without_new_version_returns_existing(self, store):
        first = store.register_dataset(name="digits", definition=self.DEF)
        again = store.register_dataset(name="digits", definition=self.DEF, description="x")
        assert again == first

    def test_other_definition_without_new_version_raises(self, store):
        store.register_dataset(name="digits", definition=self.DEF)
        other = {"type": "File", "paths": [{"url": "file:///other"}]}
        with pytest.raises(DatasetExists, match=r"'digits' \(version 1\).*create_new_version"):
            store.register_dataset(name="digits", definition=other)
        assert [d.version for d in store.list_datasets()] == [1]

    def test_create_new_version_and_get_by_version(self, store):
        store.register_dataset(name="digits", definition=self.DEF)
        second = store.register_dataset(name="digits", definition=self.DEF, create_new_version=True)
        assert second.version == 2
        assert store.get_dataset("digits").id == second.id
        assert store.get_dataset("digits", 1).version == 1

    def test_list_latest_per_name(self, store):
        store.register_dataset(name="b", definition=self.DEF)
        store.register_dataset(name="b", definition=self.DEF, create_new_version=True)
        store.register_dataset(name="a", definition=self.DEF)
        assert [(d.name, d.version) for d in store.list_datasets()] == [("a", 1), ("b", 2)]

    def test_missing_dataset_messages(self, store):
        store.register_dataset(name="digits", definition=self.DEF)
        with pytest.raises(DatasetNotFound, match=r"No dataset named 'nope'.*register"):
            store.get_dataset("nope")
        with pytest.raises(DatasetNotFound, match=r"version 4 of dataset 'digits'.*\[1\]"):
            store.get_dataset("digits", 4)
        with pytest.raises(DatasetNotFound, match="id:0000"):
            store.get_dataset_by_id("0000")
