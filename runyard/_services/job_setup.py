"""What a job needs before its process starts: its environment (Preparing), the lines the
driver log starts with, its dataset inputs and output folders, its final argv; and
removing its folder.

Called by the supervisor, one run at a time, inside the agent.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import runyard
from runyard import _jobenv
from runyard._compute import LOCAL, ranks
from runyard._envs import docker_notice, resolve_spec
from runyard._envs.builder import default_build_settings, ensure_env
from runyard._envs.spec import requirement_name
from runyard._services import Services
from runyard._services.compute import gpu_warning
from runyard._services.datasets import (
    dataset_inputs,
    materialize_input,
    remove_materialized,
    write_direct_input,
)
from runyard._services.job_uploads import dataset_outputs, output_datastore, output_folder
from runyard.exceptions import ComputeTargetException, EnvironmentBuildFailed, RunyardError

DATASET_TOKEN = "DatasetConsumptionConfig:"
OUTPUT_TOKEN = "DatasetOutputConfig:"


def has_environment(definition: Mapping[str, Any]) -> bool:
    """True when the run has an environment to build: a full Environment definition, or
    none but a run that asks for MPI (its mpich and mpi4py are installed)."""
    env = definition.get("environment")
    return (isinstance(env, Mapping) and "python" in env) or _asks_for_mpi(definition)


def _asks_for_mpi(definition: Mapping[str, Any]) -> bool:
    try:
        dist = ranks.distribution_of(definition)
    except RunyardError:  # refused at submit; a stored run of an older Runyard: no MPI
        return False
    return dist is not None and dist.kind == ranks.MPI


def run_environment(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Environment definition the run's environment is built from: the run's own, and
    for a run that asks for MPI the PyPI ``mpich`` wheel and ``mpi4py`` added to its pip
    packages (no system MPI is assumed; a user-managed environment is left as it is)."""
    env = definition.get("environment")
    if isinstance(env, Mapping) and "python" in env:
        built: dict[str, Any] = copy.deepcopy(dict(env))
    else:
        built = {"name": "mpi-environment", "python": {"condaDependencies": {}}}
    if not _asks_for_mpi(definition) or built["python"].get("userManagedDependencies"):
        return built
    conda = built["python"].setdefault("condaDependencies", {}) or {}
    built["python"]["condaDependencies"] = conda
    dependencies = conda.setdefault("dependencies", [])
    pip = next((d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d), None)
    if pip is None:
        pip = []
        dependencies.append({"pip": pip})
    named = {requirement_name(str(p)) for p in pip}
    pip.extend(p for p in ranks.MPI_PACKAGES if p not in named)
    return built


def prepare_environment(
    services: Services,
    definition: Mapping[str, Any],
    log: Callable[[str], None],
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """Builds or reuses the run's environment; returns the interpreter to run with.

    Raises:
        RunyardError: the spec is bad or the build failed (uv's own output in the message).
        EnvironmentBuildStopped: ``should_stop()`` turned True during the build.
    """
    resolved = resolve_spec(run_environment(definition))
    for note in resolved.notes:
        log(note)
    build = default_build_settings(services.settings.home, host_python=sys.executable)
    build = dataclasses.replace(build, should_stop=should_stop)
    return ensure_env(resolved.spec, build, log=log).python


def build_failure_line(exc: RunyardError) -> str:
    """The build log's last line for a failed build. uv's output was streamed into the
    log just above, so it is not written a second time (the run's error keeps it)."""
    text = str(exc)
    if isinstance(exc, EnvironmentBuildFailed):
        text = text.partition("\nuv said:\n")[0] + " (uv's output is above)"
    return f"Preparing the run's environment failed: {text}"


def driver_log_notices(services: Services, definition: Mapping[str, Any], target: str) -> list[str]:
    """Lines the driver log starts with: docker not used, GPU asked but absent."""
    lines: list[str] = []
    if has_environment(definition):
        docker = definition.get("docker") or {}
        notice = docker_notice(
            run_environment(definition), use_docker=bool(docker.get("useDocker"))
        )
        if notice:
            lines.append(notice)
    lines.extend(str(n) for n in definition.get("notices") or [])
    if target != LOCAL:
        try:
            warning = gpu_warning(services.store.get_compute_target(target))
        except ComputeTargetException:
            warning = None
        if warning:
            lines.append(warning)
    return lines


def runyard_import_root(home: Path) -> str:
    """A folder whose only package is this runyard, for a job's PYTHONPATH. A source
    checkout's parent is used as is; an installed runyard is linked from RUNYARD_HOME, so
    the host's site-packages (numpy ...) never shadow the environment's packages."""
    package = Path(runyard.__file__).resolve().parent
    parent = package.parent
    if parent.name not in ("site-packages", "dist-packages"):
        return str(parent)
    root = home / "runtime" / "pylib"
    link = root / "runyard"
    if not link.exists():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".runyard-{id(root)}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(package, target_is_directory=True)
        tmp.replace(link)
    return str(root)


def job_python_path(services: Services, built_env: bool) -> list[str]:
    """PYTHONPATH entries: the azureml alias always; runyard itself in a built env."""
    entries = [_jobenv.alias_pythonpath()]
    if built_env:
        entries.insert(0, runyard_import_root(services.settings.home))
    return entries


def materialize_inputs(
    services: Services, definition: Mapping[str, Any], inputs_dir: Path
) -> dict[str, tuple[str, str]]:
    """{name: (mode, value)} for every dataset input of the run: the local path of a mount
    or download; for a direct input (a dataset object in the job) the dataset's id, with
    its definition over the local copy in ``inputs/<name>.dataset.json``."""
    found: dict[str, tuple[str, str]] = {}
    for name, entry in dataset_inputs(definition).items():
        path = materialize_input(services, dict(entry), inputs_dir / name)
        mode = str(entry.get("mode", "mount"))
        if mode == "direct":
            found[name] = (mode, write_direct_input(entry, path, inputs_dir, name))
        else:
            found[name] = (mode, str(path))
    return found


def prepare_outputs(
    services: Services, definition: Mapping[str, Any], workdir: Path
) -> dict[str, str]:
    """{name: local folder} of the run's output datasets, each folder made (empty) under
    the working copy; their datastores are checked now, not when the run has ended."""
    found: dict[str, str] = {}
    for name, entry in dataset_outputs(definition).items():
        output_datastore(services, entry)
        folder = output_folder(workdir, name, entry)
        folder.mkdir(parents=True, exist_ok=True)
        found[name] = str(folder)
    return found


def job_argv(
    arguments: list[str],
    inputs: Mapping[str, tuple[str, str]],
    outputs: Mapping[str, str] | None = None,
) -> list[str]:
    """Replaces ``DatasetConsumptionConfig:<name>`` tokens by the input's value (its local
    path, or a direct input's id) and ``DatasetOutputConfig:<name>`` by the output's folder."""
    out = []
    for arg in arguments:
        if arg.startswith(DATASET_TOKEN) and arg[len(DATASET_TOKEN) :] in inputs:
            arg = inputs[arg[len(DATASET_TOKEN) :]][1]
        elif arg.startswith(OUTPUT_TOKEN) and arg[len(OUTPUT_TOKEN) :] in (outputs or {}):
            arg = (outputs or {})[arg[len(OUTPUT_TOKEN) :]]
        out.append(arg)
    return out


def remove_job_dir(job_dir: Path) -> None:
    """Removes a job's folder, its read-only dataset mounts included."""
    inputs = job_dir / "inputs"
    if inputs.exists():
        remove_materialized(inputs)
    shutil.rmtree(job_dir, ignore_errors=True)
