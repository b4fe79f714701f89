"""OutputFileDatasetConfig and input names as a run stores them: v1's names and defaults,
the run definition's entries, and every bad argument refused with its fix."""

from __future__ import annotations

import importlib
import logging
import re

import pytest

from runyard.compat import hook
from runyard.core._script_args import arguments_and_data
from runyard.core.dataset import Dataset
from runyard.data import OutputFileDatasetConfig
from runyard.data.output_dataset_config import OutputTabularDatasetConfig
from runyard.exceptions import UserErrorException


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("x\n1\n")
    return tmp_path / "d"


def test_importable_at_v1_paths():
    hook.install()
    for module in ("azureml.data", "azureml.data.output_dataset_config"):
        assert importlib.import_module(module).OutputFileDatasetConfig is OutputFileDatasetConfig


def test_defaults_are_v1s():
    output = OutputFileDatasetConfig()
    assert re.fullmatch(r"output_[0-9a-f]{8}", output.name)
    assert output.mode == "mount" and output.arg_val == f"DatasetOutputConfig:{output.name}"
    argv, data = arguments_and_data(["--out", output], {})
    assert argv == ["--out", f"DatasetOutputConfig:{output.name}"]
    assert data[output.name] == {
        "direction": "output",
        "mode": "mount",
        "source": None,
        "destination": {"datastore": None, "path": "dataset/{run-id}/{output-name}"},
        "overwrite": True,
        "source_globs": None,
        "registration": None,
        "tabular": None,
        "partition_format": None,
    }


def test_upload_registration_and_tabular_entries(ws):
    store = ws.get_default_datastore()
    output = (
        OutputFileDatasetConfig("prep", destination=(store, "out/{run-id}"), source="prepared")
        .as_upload(overwrite=False, source_globs="*.csv")
        .read_delimited_files(separator=";", path_glob="*.csv")
        .drop_columns("Path")
        .register_on_complete("prepared", description="d", tags={"k": "v"})
    )
    assert isinstance(output, OutputTabularDatasetConfig) and output.mode == "upload"
    entry = output._to_run_output()
    assert entry["destination"] == {"datastore": "workspaceblobstore", "path": "out/{run-id}"}
    assert (entry["source"], entry["overwrite"], entry["source_globs"]) == (
        "prepared",
        False,
        ["*.csv"],
    )
    assert entry["registration"] == {"name": "prepared", "description": "d", "tags": {"k": "v"}}
    assert entry["tabular"]["reader"]["separator"] == ";"
    assert entry["tabular"]["path_glob"] == "*.csv"
    assert entry["tabular"]["transforms"] == [{"op": "drop_columns", "columns": ["Path"]}]


def test_configs_are_copies():
    base = OutputFileDatasetConfig("out")
    uploaded = base.as_upload(overwrite=True)
    registered = uploaded.register_on_complete("ds")
    assert base.mode == "mount" and base._to_run_output()["registration"] is None
    assert uploaded._to_run_output()["registration"] is None
    assert registered._to_run_output()["overwrite"] is True
    assert registered.as_mount()._to_run_output()["mode"] == "mount"


def test_tabular_random_split_names_the_parts_like_v1():
    first, second = OutputFileDatasetConfig("rows").read_delimited_files().random_split(0.7, 5)
    assert (first.name, second.name) == ("rows_1", "rows_2")
    parts = [p._to_run_output()["tabular"]["transforms"][0]["part"] for p in (first, second)]
    assert parts == [0, 1]
    argv, data = arguments_and_data([first, second], {})
    assert argv == ["DatasetOutputConfig:rows_1", "DatasetOutputConfig:rows_2"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: OutputFileDatasetConfig("my-out"), r"Output name 'my-out' must be letters"),
        (lambda: OutputFileDatasetConfig("AZUREML_X"), r"would replace the job's own"),
        (lambda: OutputFileDatasetConfig(destination="out"), r"pass a \(datastore, path\)"),
        (lambda: OutputFileDatasetConfig(destination=(3, "x")), r"neither a Datastore nor"),
        (
            lambda: OutputFileDatasetConfig(destination=("ds", "a/{run_id}")),
            r"placeholder \{run_id\}, which is not one of \['\{run-id\}', '\{output-name\}'\]",
        ),
        (lambda: OutputFileDatasetConfig(destination=("ds", "../x")), r"leaves the datastore"),
        (lambda: OutputFileDatasetConfig(source="/tmp/out"), r"absolute path.*'out'"),
        (lambda: OutputFileDatasetConfig(source="../x"), r"leaves the job's working directory"),
        (lambda: OutputFileDatasetConfig().register_on_complete(""), r"pass the dataset name"),
        (lambda: OutputFileDatasetConfig().as_upload(source_globs=[""]), r"source_globs="),
        (lambda: OutputFileDatasetConfig().read_delimited_files(header="x"), r"header='x'"),
        (lambda: OutputTabularDatasetConfig(), r"call \.read_delimited_files\(\)"),
    ],
)
def test_bad_output_arguments_are_refused_with_the_fix(make, message):
    with pytest.raises(UserErrorException, match=message):
        make()


def test_as_mount_and_as_download_name_the_input(ws, folder):
    dataset = Dataset.File.from_files(str(folder))
    first, second = dataset.as_mount(), dataset.as_download()
    assert re.fullmatch(r"input_\d+", first.name) and first.mode == "mount"
    assert int(second.name.split("_")[1]) == int(first.name.split("_")[1]) + 1
    assert second.mode == "download"
    registered = dataset.register(ws, "my-data.v2")
    assert registered.as_mount().name == "my_data_v2"
    assert dataset.register(ws, "2020", create_new_version=True).as_download().name == "input_2020"


def test_input_names_that_would_replace_job_variables_are_refused(folder, caplog):
    dataset = Dataset.File.from_files(str(folder))
    for name in ("PATH", "RUNYARD_SPOOL", "azureml_run_id"):
        with pytest.raises(UserErrorException, match=rf"'{name}' would replace the job's own"):
            dataset.as_named_input(name)
    with caplog.at_level(logging.WARNING):
        assert dataset.as_named_input("home").name == "home"
    assert 'name "home" has the potential to collide' in caplog.text


def test_two_different_inputs_under_one_name_are_refused(folder, tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "b.txt").write_text("b")
    one = Dataset.File.from_files(str(folder)).as_named_input("data").as_mount()
    other = Dataset.File.from_files(str(tmp_path / "e")).as_named_input("data").as_mount()
    argv, data = arguments_and_data([one, one], {})  # the same input twice is one input
    assert list(data) == ["data"]
    with pytest.raises(UserErrorException, match=r"Two different run inputs or outputs"):
        arguments_and_data([one, OutputFileDatasetConfig("data")], {})
    with pytest.raises(UserErrorException, match=r"named 'data'"):
        arguments_and_data([one], {"x": other})
