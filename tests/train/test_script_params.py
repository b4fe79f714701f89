"""script_params -> argv, against v1's rules (azureml-v1.md section 5)."""

import pytest

from runyard.exceptions import UserErrorException
from runyard.train._script_params import flatten_script_params, script_params_to_argv
from runyard.train.estimator import Estimator


class DatasetConsumptionConfig:
    """The shape of v1's ds.as_named_input(name).as_mount(); datasets are built elsewhere."""

    def __init__(self, name, mode="mount"):
        self.name = name
        self.mode = mode
        self.dataset = object()


class FileDataset:
    pass


def test_v1_ordering_and_rules():
    data = DatasetConsumptionConfig("mnist")
    params = {
        "--data-folder": data,
        "--epochs": 10,
        "--lr": 0.5,
        "--layers": [64, 32],
        "--pair": ("a", "b"),
        "--skip": None,
        "--flag": "",
        "--zero": 0,
        "--off": False,
        "--name": "run1",
    }
    assert script_params_to_argv(params) == [
        "--data-folder",
        "DatasetConsumptionConfig:mnist",
        "--epochs",
        10,
        "--lr",
        0.5,
        "--layers",
        64,
        32,
        "--pair",
        "a",
        "b",
        "--skip",
        "--flag",
        "--zero",
        0,
        "--off",
        False,
        "--name",
        "run1",
    ]


def test_values_are_not_stringified():
    argv = script_params_to_argv({"--epochs": 10, "--lr": 0.1, "--on": True})
    assert [type(v) for v in argv] == [str, int, str, float, str, bool]


def test_numpy_scalars_become_the_python_values_they_hold():
    np = pytest.importorskip("numpy")
    params = {
        "--n": np.int64(5),
        "--lr": np.float32(0.5),
        "--b": np.bool_(False),
        "--x": [np.int32(1)],
    }
    items = flatten_script_params(params)
    assert items == ["--n", 5, "--lr", 0.5, "--b", False, "--x", 1]
    assert [type(i) for i in items[1::2]] == [int, float, bool, int]


def test_none_and_empty_inside_a_list_are_dropped_too():
    assert script_params_to_argv({"--x": [1, None, "", 0]}) == ["--x", 1, 0]


def test_estimator_keeps_dataset_objects_for_the_run_and_tokens_for_the_record(tmp_path):
    data = DatasetConsumptionConfig("mnist")
    est = Estimator(
        str(tmp_path),
        compute_target="local",
        entry_script="train.py",
        script_params={"--data-folder": data, "--epochs": 2},
    )
    assert est._arguments() == ["--data-folder", data, "--epochs", 2]
    assert est._argv() == ["--data-folder", "DatasetConsumptionConfig:mnist", "--epochs", 2]
    assert est._dataset_inputs() == [data]


def test_raw_dataset_in_script_params_is_rejected():
    with pytest.raises(UserErrorException, match=r"as_named_input\('<name>'\)\.as_mount\(\)"):
        flatten_script_params({"--data": FileDataset()})


def test_script_params_must_be_a_dict(tmp_path):
    with pytest.raises(UserErrorException, match="script_params must be a dict"):
        Estimator(str(tmp_path), compute_target="local", script_params=["--epochs", 1])


def test_resume_from_appends_flag(tmp_path):
    est = Estimator(
        str(tmp_path), compute_target="local", script_params={"--e": 1}, resume_from="ckpt"
    )
    assert est._argv() == ["--e", 1, "--resume-from", "ckpt"]
