"""The job side: Run.get_context() in a submitted script, offline, and its import cost."""

from __future__ import annotations

import math

import pytest

from runyard._entities import MetricKind, RunStatus
from runyard.core.run_context import _OfflineRun, get_context
from runyard.exceptions import RunEnvironmentException

pytestmark = pytest.mark.timeout(120)


def test_offline_run_prints_and_raises_nothing(runyard_home, capsys) -> None:
    run = get_context()
    assert isinstance(run, _OfflineRun)
    assert run.id.startswith("OfflineRun_")
    run.log("acc", 0.5)
    run.log("weird", [1, 2])
    run.log_list("xs", [1, 2])
    run.tag("k", "v")
    run.complete()
    out = capsys.readouterr().out
    assert "Attempted to log scalar metric acc:\n0.5\n" in out
    assert "Attempted to log list metric xs:\n[1, 2]\n" in out
    child = run.child_run("part")
    assert child.id == f"{run.id}.part"


def test_get_context_without_offline_raises(runyard_home) -> None:
    with pytest.raises(RunEnvironmentException) as err:
        get_context(allow_offline=False)
    assert "AZUREML_RUN_ID" in str(err.value)
    assert "allow_offline=True" in str(err.value)


JOB = """
import sys
from runyard.core.run import Run
run = Run.get_context()
run.log('acc', 0.5)
run.log('acc', 0.75, step=2)
run.log('nan', float('nan'))
run.log('inf', float('-inf'))
run.log('flag', True)
run.log('name', 'resnet')
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'rich', 'typer'))
print('HEAVY', heavy)
assert Run.get_context() is run
run.log_list('xs', [1, 2, 3])
run.log_row('rows', epoch=1, loss=0.5)
run.log_row('rows', epoch=2, loss=0.25)
run.log_table('tab', {'a': [1, 2], 'b': ['x', 'y']})
try:
    run.log('bad', [1, 2])
except Exception as exc:
    print('REFUSED', type(exc).__name__, exc)
try:
    run.log_list('acc', [1])
except Exception as exc:
    print('CONFLICT', type(exc).__name__, exc)
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
fig = plt.figure()
plt.plot([1, 2, 3])
run.log_image('curve', plot=fig)
run.tag('stage', 'done')
run.add_properties({'framework': 'none'})
with open('note.txt', 'w') as f:
    f.write('hello')
run.upload_file('extra/note.txt', 'note.txt')
run.complete()
print('input', run.input_datasets, run.id)
"""


def test_submitted_run_logs_through_the_spool(services, source, driver_log, submit, wait) -> None:
    info = submit(services, source(**{"train.py": JOB}))
    done = wait(services, info.run_id)
    log = driver_log(services, info.run_id)
    assert done.status is RunStatus.COMPLETED, log
    assert "HEAVY []" in log
    assert "REFUSED UserErrorException" in log and "run.log_list('bad', values)" in log
    assert "CONFLICT MetricTypeConflict" in log
    assert f"input {{}} {info.run_id}" in log
    metrics = services.store.get_metrics(info.run_id)
    assert metrics["acc"].values == [0.5, 0.75]
    assert math.isnan(metrics["nan"].values[0]) and metrics["inf"].values == [-math.inf]
    assert metrics["flag"].values == [True] and metrics["name"].values == ["resnet"]
    assert metrics["xs"].kind is MetricKind.LIST and metrics["xs"].values == [1, 2, 3]
    assert metrics["rows"].values == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    assert metrics["tab"].values == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert metrics["curve"].kind is MetricKind.IMAGE
    image = metrics["curve"].values[0]
    assert services.artifacts.read_bytes(f"runs/{info.run_id}/{image}")[:4] == b"\x89PNG"
    assert "bad" not in metrics
    assert done.tags["stage"] == "done" and done.properties["framework"] == "none"
    assert services.artifacts.read_bytes(f"runs/{info.run_id}/extra/note.txt") == b"hello"


ENV_JOB = """
import os
from azureml.core.run import Run
run = Run.get_context()
assert run is Run.get_context()  # cached: the same object on every call
names = ('AZUREML_RUN_ID', 'AZUREML_ARM_PROJECT_NAME', 'AZUREML_EXPERIMENT_ID',
         'AZUREML_WORKSPACE_ID', 'AZUREML_ARM_WORKSPACE_NAME', 'AZUREML_ENTRY_SCRIPT')
for name in names:
    print(f'{name}=[{os.environ.get(name)}]')
"""


def test_job_sees_v1_variables_with_its_experiment_id(
    ws, services, source, driver_log, submit, wait
) -> None:
    info = submit(services, source(**{"train.py": ENV_JOB}), experiment_name="env-names")
    done = wait(services, info.run_id)
    log = driver_log(services, info.run_id)
    assert done.status is RunStatus.COMPLETED, log
    experiment_id = services.store.get_experiment("env-names").id
    assert experiment_id
    assert f"AZUREML_EXPERIMENT_ID=[{experiment_id}]" in log
    assert f"AZUREML_RUN_ID=[{info.run_id}]" in log
    assert "AZUREML_ARM_PROJECT_NAME=[env-names]" in log
    assert "AZUREML_ARM_WORKSPACE_NAME=[test-ws]" in log
    assert "AZUREML_ENTRY_SCRIPT=[train.py]" in log
    assert "AZUREML_WORKSPACE_ID=[]" not in log


CHAINER_ROOT_JOB = """
import os
root = os.environ["CHAINER_DATASET_ROOT"]
print("ROOT", root, os.path.exists(os.path.join(root, "pfnet/chainer/mnist/train.npz")))
"""


def test_a_job_finds_the_bundled_digits_as_chainers_dataset_root(
    ws, services, source, driver_log, submit, wait
) -> None:
    from runyard.opendatasets import MNIST

    src = source(**{"train.py": CHAINER_ROOT_JOB})
    info = submit(services, src, experiment_name="chainer-root")
    assert wait(services, info.run_id).status is RunStatus.COMPLETED
    assert f"ROOT {MNIST.get_local_path()} True" in driver_log(services, info.run_id)
    # A root of the script's own (or the user's variable) wins.
    from runyard.core import Experiment, ScriptRunConfig

    config = ScriptRunConfig(src, "train.py")
    config.run_config.environment_variables["CHAINER_DATASET_ROOT"] = str(src)
    run = Experiment(ws, "chainer-root").submit(config)
    run.wait_for_completion(raise_on_error=False)
    assert f"ROOT {src} False" in driver_log(services, run.id)


CONFLICT_JOB = """
import subprocess, sys
from azureml.core.run import Run
run = Run.get_context()
run.log('m', 1)
run.log('ok', 1)
# A second process of the same job logs 'm' as a list: only the store can see the clash.
child = "from azureml.core.run import Run; Run.get_context().log_list('m', [1, 2])"
subprocess.run([sys.executable, '-c', child], check=True)
run.log('ok', 2)
print('SCRIPT-END', flush=True)
"""


def test_kind_conflict_between_job_processes_is_reported_in_the_driver_log(
    services, source, driver_log, submit, wait
) -> None:
    info = submit(services, source(**{"train.py": CONFLICT_JOB}))
    done = wait(services, info.run_id)
    log = driver_log(services, info.run_id)
    assert done.status is RunStatus.COMPLETED, log
    metrics = services.store.get_metrics(info.run_id)
    assert metrics["m"].kind is MetricKind.SCALAR and metrics["m"].values == [1]
    assert metrics["ok"].values == [1, 2]
    assert "Runyard: values of metric 'm' were not kept:" in log
    assert "was logged as a scalar; it cannot also be logged as a list" in log
