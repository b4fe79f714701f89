"""azureml -> runyard compatibility, from clean virtualenvs that hold nothing but Runyard's source.

The venvs get no third-party packages: a .pth file points at this checkout, which is enough
for the light parts (azureml.core names, estimators, opendatasets) these scripts import.
"""

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import runyard
from runyard import compat
from runyard.exceptions import AzureMLCompatConflict, UserErrorException

REPO = Path(runyard.__file__).resolve().parents[1]

DRIVER = """
from azureml.core import Experiment, Run, ScriptRunConfig, Workspace
from azureml.core.run import Run as RunFromModule
from azureml.exceptions import TrainingException
from azureml.opendatasets import MNIST
from azureml.train.dnn import Chainer
from azureml.train.estimator import Estimator
import azureml.core.run
import sys
assert Run is RunFromModule
assert azureml.core.run is sys.modules["runyard.core.run"]
assert azureml.core.run.__spec__.name == "runyard.core.run"
print(Workspace.__module__, Chainer.__module__, MNIST.__module__)
"""

JOB = """
from azureml.core.run import Run
run = Run.get_context()
run.log("Accuracy", 0.5)
print("job ran with", type(run).__module__)
"""


@pytest.fixture
def clean_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "runyard_src.pth").write_text(f"{REPO}\n")
    return python, Path(site)


def run_py(python, code, tmp_path, env=None):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean.update(env or {})
    return subprocess.run(
        [python, str(script)], capture_output=True, text=True, cwd=tmp_path, env=clean
    )


def enable_in(python, site):
    code = f"import runyard.compat as c; print(c.enable({str(site)!r}))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True)


def test_without_enable_azureml_is_absent(clean_venv, tmp_path):
    python, _ = clean_venv
    out = run_py(python, DRIVER, tmp_path)
    assert out.returncode == 1
    assert "No module named 'azureml'" in out.stderr


def test_enable_makes_a_driver_importing_only_azureml_work(clean_venv, tmp_path):
    python, site = clean_venv
    enabled = enable_in(python, site)
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout.strip() == str(site / compat.PTH_NAME)
    out = run_py(python, DRIVER, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "runyard.core.workspace",
        "runyard.train.dnn",
        "runyard.opendatasets.mnist",
    ]


def test_disable_removes_the_hook(clean_venv, tmp_path):
    python, site = clean_venv
    assert enable_in(python, site).returncode == 0
    assert compat.disable(site) == site / compat.PTH_NAME
    assert not compat.is_enabled(site)
    out = run_py(python, DRIVER, tmp_path)
    assert "No module named 'azureml'" in out.stderr
    assert compat.disable(site) is None


def test_enable_refuses_next_to_a_real_azureml_core(clean_venv):
    python, site = clean_venv
    dist_info = site / "azureml_core-1.48.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: azureml-core\nVersion: 1.48.0\n"
    )
    out = enable_in(python, site)
    assert out.returncode == 1
    assert "AzureMLCompatConflict: azureml-core 1.48.0 is installed in" in out.stderr
    assert "pip uninstall azureml-core" in out.stderr
    assert not (site / compat.PTH_NAME).exists()


def test_enable_refusal_message_in_process(tmp_path):
    dist_info = tmp_path / "azureml_core-1.0.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: azureml-core\nVersion: 1.0.0\n"
    )
    with pytest.raises(AzureMLCompatConflict, match="Use a separate virtualenv for Runyard"):
        compat.enable(tmp_path)


def test_enable_into_a_missing_folder_names_it(tmp_path):
    missing = tmp_path / "no-such-site-packages"
    with pytest.raises(UserErrorException) as info:
        compat.enable(missing)
    assert f"Cannot write '{missing / compat.PTH_NAME}'" in str(info.value)
    assert "--site-packages must be an existing, writable site-packages folder" in str(info.value)
    assert not missing.exists()


def test_enable_and_disable_are_idempotent(tmp_path):
    assert compat.enable(tmp_path) == compat.enable(tmp_path) == tmp_path / compat.PTH_NAME
    assert [p.name for p in tmp_path.iterdir()] == [compat.PTH_NAME]
    assert compat.disable(tmp_path) == tmp_path / compat.PTH_NAME
    assert compat.disable(tmp_path) is None
    assert not compat.is_enabled(tmp_path)


def test_job_pythonpath_makes_a_job_script_work_unchanged(clean_venv, tmp_path):
    python, _ = clean_venv
    out = run_py(python, JOB, tmp_path, env={"PYTHONPATH": compat.job_pythonpath()})
    assert out.returncode == 0, out.stderr
    assert "job ran with runyard.core.run_context" in out.stdout


def test_unknown_azureml_module_says_runyard_lacks_it(clean_venv, tmp_path):
    python, _ = clean_venv
    code = "import azureml.pipeline.core\n"
    out = run_py(python, code, tmp_path, env={"PYTHONPATH": compat.job_pythonpath()})
    assert (
        "ModuleNotFoundError: No module named 'azureml.pipeline': Runyard does not " in out.stderr
    )
    assert "README section 'Supported azureml v1 names'" in out.stderr


def test_default_site_packages_is_this_interpreters_purelib():
    assert compat._site_packages(None) == Path(sysconfig.get_paths()["purelib"])
