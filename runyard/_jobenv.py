"""Names of the environment variables a submitted job sees, and building that environment.

Light on purpose: job processes import it. v1's names where v1 has them, so scripts written
for Azure ML find their run the same way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

RUN_ID = "AZUREML_RUN_ID"
SUBSCRIPTION = "AZUREML_ARM_SUBSCRIPTION"
RESOURCE_GROUP = "AZUREML_ARM_RESOURCEGROUP"
WORKSPACE_NAME = "AZUREML_ARM_WORKSPACE_NAME"
EXPERIMENT_NAME = "AZUREML_ARM_PROJECT_NAME"
EXPERIMENT_ID = "AZUREML_EXPERIMENT_ID"
WORKSPACE_ID = "AZUREML_WORKSPACE_ID"
SERVICE_ENDPOINT = "AZUREML_SERVICE_ENDPOINT"
RUN_TOKEN = "AZUREML_RUN_TOKEN"
SOURCE_DIRECTORY = "AZUREML_SOURCE_DIRECTORY"
ENTRY_SCRIPT = "AZUREML_ENTRY_SCRIPT"
TARGET_TYPE = "AZUREML_TARGET_TYPE"
OUTPUT_DIRECTORY = "AZUREML_OUTPUT_DIRECTORY"
WORKSPACE_DIR = "RUNYARD_WORKSPACE_DIR"
# "channel": the job's artifact store is the job channel (a node of another machine).
ARTIFACTS_VARIABLE = "RUNYARD_ARTIFACTS"
ARTIFACTS_CHANNEL = "channel"
SPOOL = "RUNYARD_SPOOL"
HOME = "RUNYARD_HOME"
DATASET_ENVIRONMENT_VARS = "AZUREML_DATASET_ENVIRONMENT_VARS"
DATASET_FILE_OUTPUTS = "AZUREML_DATASET_FILE_OUTPUTS"  # v1: output names, ';'-separated

# Chainer's dataset root: v1's nodes had the internet, so scripts call
# chainer.datasets.get_mnist() and it downloads; ours have none, so a job finds the bundled
# digits there (runyard.opendatasets.MNIST.get_local_path()) unless it sets its own.
CHAINER_DATASET_ROOT = "CHAINER_DATASET_ROOT"
BUNDLED_DATASET_ROOT = Path(__file__).resolve().parent / "opendatasets" / "data"

# Without these get_context cannot find the run; the rest are informative.
REQUIRED = (RUN_ID, EXPERIMENT_NAME, WORKSPACE_NAME, WORKSPACE_DIR, SPOOL)


def missing_variables(environ: Mapping[str, str]) -> list[str]:
    return [name for name in REQUIRED if not environ.get(name)]


def alias_pythonpath() -> str:
    """The folder to prepend to a job's PYTHONPATH so that its ``import azureml`` is Runyard
    (``runyard/compat/jobpath``; ``runyard`` itself must also be importable in the job)."""
    return str(Path(__file__).resolve().parent / "compat" / "jobpath")


def package_pythonpath(environ: Mapping[str, str]) -> str | None:
    """PYTHONPATH that lets a child Python import this same runyard (a source checkout
    is not on sys.path of a process started elsewhere); None when nothing is needed."""
    parent = str(Path(__file__).resolve().parent.parent)
    if any(parent == p for p in sys.path if "site-packages" in p):
        return None
    current = environ.get("PYTHONPATH", "")
    if parent in current.split(os.pathsep):
        return None
    return parent + (os.pathsep + current if current else "")


def job_environment(
    *,
    base: Mapping[str, str],
    run_id: str,
    experiment_name: str,
    experiment_id: str,
    workspace: Mapping[str, str],
    workspace_dir: Path,
    home: Path,
    spool: Path,
    source_directory: str,
    script: str,
    target: str,
    user_variables: Mapping[str, str],
    python_path: Sequence[str] = (),
    datasets: Mapping[str, tuple[str, str]] | None = None,
    outputs: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``base`` plus the job variables, then the user's own variables on top.

    ``python_path`` entries go first on PYTHONPATH (runyard and the azureml alias for a
    job running in a built environment); ``datasets`` maps an input name to (mode, path)
    and sets v1's ``AZUREML_DATASET_ENVIRONMENT_VARS`` plus one variable per input;
    ``outputs`` maps an output name to its local folder (v1's ``AZUREML_DATASET_FILE_OUTPUTS``
    plus one variable per output)."""
    env = dict(base)
    env.update(
        {
            RUN_ID: run_id,
            SUBSCRIPTION: workspace.get("subscription_id", ""),
            RESOURCE_GROUP: workspace.get("resource_group", ""),
            WORKSPACE_NAME: workspace.get("name", workspace_dir.name),
            EXPERIMENT_NAME: experiment_name,
            EXPERIMENT_ID: experiment_id,
            WORKSPACE_ID: workspace.get("id", ""),
            SERVICE_ENDPOINT: f"file://{workspace_dir}",
            # Nothing checks it locally; v1 scripts sometimes read it, so it is never empty.
            RUN_TOKEN: "local",
            SOURCE_DIRECTORY: source_directory,
            ENTRY_SCRIPT: script,
            TARGET_TYPE: target,
            OUTPUT_DIRECTORY: "./outputs",
            WORKSPACE_DIR: str(workspace_dir),
            SPOOL: str(spool),
            HOME: str(home),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault(CHAINER_DATASET_ROOT, str(BUNDLED_DATASET_ROOT))
    pythonpath = package_pythonpath(env)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    if python_path:
        current = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = os.pathsep.join([*python_path, *([current] if current else [])])
    if datasets:
        env[DATASET_ENVIRONMENT_VARS] = ",".join(f"{n}:{m}" for n, (m, _) in datasets.items())
        env.update({name: path for name, (_, path) in datasets.items()})
    if outputs:
        env[DATASET_FILE_OUTPUTS] = ";".join(outputs)
        env.update(outputs)
    env.update({str(k): str(v) for k, v in user_variables.items()})
    return env


# Set by the agent for each run; the rest of a job's environment is the same for every run
# of one definition (a forkserver starts with it: launcher.py).
PER_RUN = (
    RUN_ID,
    EXPERIMENT_NAME,
    EXPERIMENT_ID,
    SOURCE_DIRECTORY,
    ENTRY_SCRIPT,
    TARGET_TYPE,
    SPOOL,
    DATASET_ENVIRONMENT_VARS,
    DATASET_FILE_OUTPUTS,
)


def per_run_names(environ: Mapping[str, str]) -> set[str]:
    """The variables of a job's environment that differ from run to run: the run's own
    (PER_RUN) and one per dataset input and output (their paths are the run's)."""
    names = {name for name in PER_RUN if name in environ}
    names.update(input_datasets(environ))
    names.update(output_datasets(environ))
    return names


def input_datasets(environ: Mapping[str, str]) -> dict[str, str]:
    """{name: path} of the job's dataset inputs, read from v1's variables."""
    found: dict[str, str] = {}
    for item in environ.get(DATASET_ENVIRONMENT_VARS, "").split(","):
        name = item.rpartition(":")[0] if ":" in item else item
        if name and name in environ:
            found[name] = environ[name]
    return found


def output_datasets(environ: Mapping[str, str]) -> dict[str, str]:
    """{name: local folder} of the job's output datasets, read from v1's variables."""
    names = [n for n in environ.get(DATASET_FILE_OUTPUTS, "").split(";") if n]
    return {name: environ[name] for name in names if name in environ}
