"""Experiment.submit(est, script_params=..., inputs=..., source_directory_data_store=...)."""

import pytest

from runyard.exceptions import TrainingException
from runyard.train.estimator import Estimator


class DatasetConsumptionConfig:
    def __init__(self, name, mode="mount"):
        self.name, self.mode, self.dataset = name, mode, object()


def make(tmp_path):
    return Estimator(
        str(tmp_path),
        compute_target="local",
        entry_script="train.py",
        script_params={"--epochs": 10, "--batchsize": 100},
        inputs=[DatasetConsumptionConfig("a")],
    )


def test_script_params_merge_and_the_estimator_is_unchanged(tmp_path):
    est = make(tmp_path)
    over = est._submit_overrides(script_params={"--epochs": 2, "--unit": 50})
    assert over._argv() == ["--epochs", 2, "--batchsize", 100, "--unit", 50]
    assert est._argv() == ["--epochs", 10, "--batchsize", 100]


def test_inputs_add_and_replace_by_name(tmp_path):
    est = make(tmp_path)
    new_a, b = DatasetConsumptionConfig("a", "download"), DatasetConsumptionConfig("b")
    over = est._submit_overrides(inputs=[new_a, b])
    assert over._dataset_inputs() == [new_a, b]
    assert [i.mode for i in est.inputs] == ["mount"]


def test_source_directory_data_store_override(tmp_path):
    over = make(tmp_path)._submit_overrides(source_directory_data_store="workspaceblobstore")
    assert over.source_directory_data_store == "workspaceblobstore"


def test_unknown_override_is_named(tmp_path):
    with pytest.raises(
        TrainingException, match=r"got 'node_count' for an estimator; only script_params"
    ):
        make(tmp_path)._submit_overrides(node_count=2)
