"""Datasets in submitted runs, with the real agent: inputs named for you, direct tabular
inputs as dataset objects, transformed and converted inputs, and output datasets uploaded
and registered when the run ends."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from runyard._services.agent_client import agent_pid
from runyard.core import Experiment, ScriptRunConfig
from runyard.core.dataset import Dataset
from runyard.core.datastore import Datastore
from runyard.data import OutputFileDatasetConfig, TabularDataset

SHOW_ARGS = """
import os, sys
from azureml.core import Run
run = Run.get_context()
print('ARGV', sys.argv[1:])
for name, value in sorted(run.input_datasets.items()):
    print('INPUT', name, value)
    print('LISTING', sorted(os.listdir(value)) if os.path.isdir(value) else open(value).read())
"""


@pytest.fixture
def store(ws, tmp_path) -> Datastore:
    """The default datastore with rows/1.csv (ids 0-9), files/a.txt and files/sub/b.txt."""
    src = tmp_path / "up"
    (src / "rows").mkdir(parents=True)
    (src / "rows" / "1.csv").write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(10)))
    (src / "files" / "sub").mkdir(parents=True)
    (src / "files" / "a.txt").write_text("a")
    (src / "files" / "sub" / "b.txt").write_text("b")
    datastore = ws.get_default_datastore()
    datastore.upload(src, show_progress=False)
    return datastore


def _submit(ws, source, script: str, arguments: list, name: str = "data"):
    config = ScriptRunConfig(source(**{"train.py": script}), "train.py", arguments=arguments)
    run = Experiment(ws, name).submit(config)
    details = run.wait_for_completion(raise_on_error=False)
    return run, details


def _datastore_file(store: Datastore, rel: str) -> Path:
    return Path(store.url.removeprefix("file://")) / rel


def test_file_dataset_as_mount_and_as_download_directly(ws, services, source, store, driver_log):
    files = Dataset.File.from_files((store, "files")).register(ws, "my-files")
    one = Dataset.File.from_files((store, "files/a.txt"))
    run, details = _submit(
        ws, source, SHOW_ARGS, ["--m", files.as_mount(), "--d", one.as_download()]
    )
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "INPUT my_files /" in log and "LISTING ['a.txt', 'sub']" in log
    # A dataset naming one file gives the file's own path (v1), here input_<n>'s.
    assert "LISTING a" in log
    argv = log.split("ARGV ")[1].splitlines()[0]
    assert argv.startswith("['--m', '/") and argv.endswith("/a.txt']")


def test_file_dataset_split_as_input_holds_only_its_part(ws, services, source, store, driver_log):
    first, second = Dataset.File.from_files((store, "files")).random_split(0.5, seed=2)
    expected = sorted(p.rsplit("/", 1)[-1] for p in first.to_path())
    script = (
        "import os, sys\n"
        "names = sorted(n for _, _, ns in os.walk(sys.argv[1]) for n in ns)\n"
        "print('FILES', names)\n"
    )
    run, details = _submit(ws, source, script, [first.as_named_input("part").as_download()])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert f"FILES {expected}" in log
    assert len(first.to_path()) + len(second.to_path()) == 2


DIRECT = """
import sys
from azureml.core import Dataset, Run
run = Run.get_context()
print('ARG', sys.argv[1:])
rows = run.input_datasets['rows']
print('TYPE', type(rows).__name__, rows.name, rows.version)
print('IDS', rows.to_pandas_dataframe()['id'].tolist())
same = Dataset.get_by_id(run.experiment.workspace, id=sys.argv[2])
print('BY_ID', type(same).__name__, same.to_pandas_dataframe()['name'].tolist())
"""


def test_tabular_direct_input_is_a_tabular_dataset_in_the_job(
    ws, services, source, store, driver_log
):
    table = Dataset.Tabular.from_delimited_files((store, "rows/*.csv")).register(ws, "rows")
    sample = table.skip(2).take(3).keep_columns(["id", "name"])
    run, details = _submit(ws, source, DIRECT, ["--rows", sample.as_named_input("rows")])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "TYPE TabularDataset None None" in log  # the derived dataset is unregistered
    assert "IDS [2, 3, 4]" in log
    assert "BY_ID TabularDataset ['n2', 'n3', 'n4']" in log
    assert "ARG ['--rows', 'run-input-" in log  # v1 passes a direct input as its id


def test_registered_direct_input_keeps_its_identity_and_id(ws, services, source, store, driver_log):
    table = Dataset.Tabular.from_delimited_files((store, "rows/1.csv")).register(ws, "rows")
    script = DIRECT + "print('ID', sys.argv[2])\n"
    run, details = _submit(ws, source, script, ["--rows", table.as_named_input("rows")])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "TYPE TabularDataset rows 1" in log and f"ID {table.id}" in log


FILES_DIRECT = """
from azureml.core import Run
files = Run.get_context().input_datasets['files']
print('FILES', type(files).__name__, files.to_path())
print('GOT', sorted(open(p).read() for p in files.download()))
"""


def test_file_dataset_direct_input_is_a_file_dataset_in_the_job(
    ws, services, source, store, driver_log
):
    files = Dataset.File.from_files((store, "files"))
    run, details = _submit(ws, source, FILES_DIRECT, [files.as_named_input("files")])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "FILES FileDataset ['/a.txt', '/sub/b.txt']" in log and "GOT ['a', 'b']" in log


# As in a uv-built environment, which has pandas (the user's) but not fsspec.
NO_FSSPEC = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] == 'fsspec':
            raise ImportError('fsspec is not installed in this environment')

sys.meta_path.insert(0, Refuse())
from azureml.core import Run
frame = Run.get_context().input_datasets['rows'].to_pandas_dataframe()
print('ROWS', len(frame), 'FSSPEC', 'fsspec' in sys.modules)
"""


def test_direct_input_reads_without_fsspec_in_the_job(ws, services, source, store, driver_log):
    table = Dataset.Tabular.from_delimited_files((store, "rows/*.csv"))
    run, details = _submit(ws, source, NO_FSSPEC, [table.take(4).as_named_input("rows")])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "ROWS 4 FSSPEC False" in log


def test_csv_files_of_a_table_as_a_mounted_input(ws, services, source, store, driver_log):
    table = Dataset.Tabular.from_delimited_files((store, "rows/*.csv"))
    csv = table.take(2).to_csv_files()
    script = (
        "import sys, os\n"
        "print('CSV', repr(open(os.path.join(sys.argv[1], 'part-00000.csv')).read()))\n"
    )
    run, details = _submit(ws, source, script, [csv.as_mount()])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert "CSV 'id,name\\n0,n0\\n1,n1\\n'" in log


WRITE_OUTPUT = """
import os, sys
from azureml.core import Run
run = Run.get_context()
out = sys.argv[1]
print('OUT', out, run.output_datasets, os.environ.get('AZUREML_DATASET_FILE_OUTPUTS'))
os.makedirs(os.path.join(out, 'sub'), exist_ok=True)
with open(os.path.join(out, 'rows.csv'), 'w') as f:
    f.write('k,v\\n1,a\\n2,b\\n')
with open(os.path.join(out, 'sub', 'notes.txt'), 'w') as f:
    f.write('n')
sys.exit(3 if '--fail' in sys.argv else 0)
"""


def test_output_is_uploaded_and_registered_when_the_run_completes(
    ws, services, source, store, driver_log
):
    output = OutputFileDatasetConfig(name="prep").register_on_complete("prepared", tags={"k": "v"})
    run, details = _submit(ws, source, WRITE_OUTPUT, [output])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    folder = log.split("OUT ")[1].split()[0]
    assert folder.endswith("/wd/output_datasets/prep")
    assert f"OUT {folder} {{'prep': '{folder}'}} prep\n" in log
    at = f"dataset/{run.id}/prep"
    assert _datastore_file(store, f"{at}/rows.csv").read_text() == "k,v\n1,a\n2,b\n"
    assert _datastore_file(store, f"{at}/sub/notes.txt").read_text() == "n"
    registered = Dataset.get_by_name(ws, "prepared")
    assert registered.to_path() == ["/rows.csv", "/sub/notes.txt"] and registered.tags == {"k": "v"}
    assert (
        f"Runyard: output 'prep': 2 file(s) uploaded to datastore 'workspaceblobstore' at '{at}'"
        in log
    )
    assert not Path(folder).exists()  # the job folder is gone


def test_tabular_output_registers_a_tabular_dataset_at_its_destination(
    ws, services, source, store, driver_log
):
    output = (
        OutputFileDatasetConfig("rows", destination=(store, "tables/{run-id}/{output-name}"))
        .as_upload(source_globs=["*.csv"])
        .read_delimited_files()
        .register_on_complete("table_out")
    )
    run, details = _submit(ws, source, WRITE_OUTPUT, [output])
    log = driver_log(services, run.id)
    assert details["status"] == "Completed", log
    assert not _datastore_file(store, f"tables/{run.id}/rows/sub").exists()  # globbed out
    registered = Dataset.get_by_name(ws, "table_out")
    assert isinstance(registered, TabularDataset)
    assert registered.to_pandas_dataframe().to_dict("records") == [
        {"k": 1, "v": "a"},
        {"k": 2, "v": "b"},
    ]


def test_failed_run_keeps_mounted_outputs_but_not_uploads_and_registers_nothing(
    ws, services, source, store, driver_log
):
    mounted = OutputFileDatasetConfig("kept", source="kept").register_on_complete("never1")
    uploaded = OutputFileDatasetConfig("dropped").as_upload().register_on_complete("never2")
    run, details = _submit(ws, source, WRITE_OUTPUT, [mounted, uploaded, "--fail"])
    log = driver_log(services, run.id)
    assert details["status"] == "Failed", log
    assert _datastore_file(store, f"dataset/{run.id}/kept/rows.csv").exists()
    assert not _datastore_file(store, f"dataset/{run.id}/dropped").exists()
    assert "as_upload() outputs were not uploaded: the run did not complete" in log
    assert {"never1", "never2"}.isdisjoint(ws.datasets)


def test_upload_onto_existing_files_fails_the_run_and_changes_nothing(
    ws, services, source, store, driver_log
):
    (_datastore_file(store, "fixed")).mkdir()
    _datastore_file(store, "fixed/rows.csv").write_text("mine")
    output = OutputFileDatasetConfig("o", destination=(store, "fixed")).as_upload()
    output = output.register_on_complete("not_registered")
    run, details = _submit(ws, source, WRITE_OUTPUT, [output])
    log = driver_log(services, run.id)
    assert details["status"] == "Failed", log
    error = details["error"]["error"]
    assert error["code"] == "DatasetOutputFailed"
    assert "output 'o' was not uploaded: 1 file(s) already exist in datastore" in error["message"]
    assert "as_upload(overwrite=True)" in error["message"]
    assert _datastore_file(store, "fixed/rows.csv").read_text() == "mine"
    assert not _datastore_file(store, "fixed/sub").exists()
    assert "not_registered" not in ws.datasets


WAIT_THEN_WRITE = """
import os, sys, time
print('MARKER-WAITING', flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
with open(os.path.join(sys.argv[1], 'late.txt'), 'w') as f:
    f.write('late')
"""


def test_outputs_of_a_run_whose_agent_died_are_kept_by_the_next_agent(
    ws, services, source, store, wait_until, tmp_path
):
    go = tmp_path / "go"
    output = OutputFileDatasetConfig("late").as_upload().register_on_complete("late_ds")
    config = ScriptRunConfig(
        source(**{"train.py": WAIT_THEN_WRITE}), "train.py", arguments=[output, str(go)]
    )
    run = Experiment(ws, "orphan").submit(config)
    log = services.artifacts.local_path(f"runs/{run.id}/azureml-logs/70_driver_log.txt")
    wait_until(lambda: log.exists() and "MARKER-WAITING" in log.read_text(), 60, "the job")
    os.kill(agent_pid(services.layout), signal.SIGKILL)
    wait_until(lambda: agent_pid(services.layout) is None, 10, "the agent lock to be released")
    go.touch()
    status_file = services.layout.jobs_dir / run.id / "exit_status.json"
    wait_until(status_file.exists, 30, "the job's wrapper to record its exit status")

    details = run.wait_for_completion(raise_on_error=False)  # a new agent reconciles it

    assert details["status"] == "Completed", details
    assert _datastore_file(store, f"dataset/{run.id}/late/late.txt").read_text() == "late"
    assert Dataset.get_by_name(ws, "late_ds").to_path() == ["/late.txt"]
