"""Errors Runyard raises on purpose.

Every error names what was wrong and how to fix it. The azureml v1 exception names
(``UserErrorException``, ``ActivityFailedException`` ...) are kept as subclasses so that
``except`` clauses written for v1 keep working.
"""

from __future__ import annotations

import shutil
from pathlib import Path


class RunyardError(Exception):
    """Base of every error Runyard raises on purpose."""

    http_status = 500


class AzureMLException(RunyardError):
    """v1's base exception name (``azureml.exceptions.AzureMLException``)."""


class UserErrorException(AzureMLException):
    """A caller passed a bad value; the message says which and how to fix it."""

    http_status = 400


class RunEnvironmentException(AzureMLException):
    """Run.get_context(allow_offline=False) outside a submitted run."""


class ActivityFailedException(AzureMLException):
    """wait_for_completion(raise_on_error=True) on a run that ended Failed."""

    def __init__(self, message: str, error_details: dict | None = None) -> None:
        super().__init__(message)
        self.error_details = error_details or {}


class ExperimentExecutionException(AzureMLException):
    """Problems while submitting or following an experiment run."""


class SnapshotException(UserErrorException):
    """The source directory cannot be snapshotted (too large, too many files...)."""


class RunConfigurationException(UserErrorException):
    """A bad run configuration, e.g. a distributed_job_config (v1's azureml.exceptions
    name)."""


class TrainingException(UserErrorException):
    """Bad estimator or training configuration (v1's azureml.train name)."""


class ComputeTargetException(AzureMLException):
    """A compute target is missing or misconfigured."""


class WebserviceException(AzureMLException):
    """v1 raises this name for model registry problems too (ModelNotFound...)."""


class ModelNotFoundException(WebserviceException):
    http_status = 404


class ModelPathNotFoundException(UserErrorException):
    """register_model's model_path is not among the run's files."""


# ---- internal errors (store / services) ----------------------------------------------------


class NotFoundError(RunyardError):
    http_status = 404


class RunNotFound(NotFoundError, UserErrorException):
    http_status = 404

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"No run with id {run_id!r} in this workspace. List runs with "
            "`runyard runs list` or `experiment.get_runs()`; check that the workspace "
            "(config.json / RUNYARD_HOME) is the one the run was submitted to."
        )


class ExperimentNotFound(NotFoundError, UserErrorException):
    http_status = 404

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"No experiment named {name!r} in this workspace. Create it with "
            f"Experiment(ws, {name!r}); list experiments with ws.experiments."
        )


class InvalidStatusTransition(RunyardError):
    http_status = 409

    def __init__(self, run_id: str, current: str, requested: str) -> None:
        super().__init__(
            f"Run {run_id!r} is already {current}; it cannot move to {requested}. "
            "A run that reached Completed, Failed or Canceled keeps that status."
        )


class ImmutablePropertyError(UserErrorException):
    http_status = 409

    def __init__(self, run_id: str, key: str, old: str, new: str) -> None:
        super().__init__(
            f"Property {key!r} of run {run_id!r} is already {old!r}; properties cannot be "
            f"changed once set (tried {new!r}). Use run.tag({key!r}, ...) for values that change."
        )


class MetricTypeConflict(UserErrorException):
    def __init__(self, run_id: str, name: str, old: str, new: str) -> None:
        super().__init__(
            f"Metric {name!r} of run {run_id!r} was logged as a {old}; it cannot also be "
            f"logged as a {new}. Log the {new} under another name."
        )


class UnsupportedStoreURI(UserErrorException):
    def __init__(self, uri: str, supported: tuple[str, ...]) -> None:
        super().__init__(
            f"Store URI {uri!r} is not supported. Use one of: {', '.join(supported)} "
            "(set RUNYARD_STORE_URI)."
        )


class InvalidArtifactName(UserErrorException):
    def __init__(self, name: object, why: str) -> None:
        super().__init__(
            f"Artifact name {name!r} is not allowed: {why}. Names are relative POSIX paths "
            "inside the run, such as 'outputs/model.pkl'."
        )


class ArtifactNotFound(NotFoundError, UserErrorException):
    def __init__(self, name: str, where: str, existing: list[str] | None = None) -> None:
        hint = ""
        if existing is not None:
            shown = existing[:50]
            more = f" (and {len(existing) - 50} more)" if len(existing) > 50 else ""
            hint = f" Files that exist: {shown}{more}."
        super().__init__(f"No file {name!r} in {where}.{hint}")


class RunIdAlreadyExists(UserErrorException):
    http_status = 409

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"A run with id {run_id!r} already exists in this workspace. Run ids are unique: "
            "leave run_id unset to get a fresh one, or pick another id."
        )


class ModelPropertyImmutable(UserErrorException):
    http_status = 409

    def __init__(self, model_id: str, key: str, old: str, new: str) -> None:
        super().__init__(
            f"Property {key!r} of model {model_id!r} is already {old!r}; properties cannot be "
            f"changed once set (tried {new!r}). Use model.add_tags({{{key!r}: ...}}) for values "
            "that change, or register a new version."
        )


# ---- environments (runyard.core.environment, runyard._envs) ---------------------------------


class InvalidCondaSpec(UserErrorException):
    def __init__(self, spec: str, why: str) -> None:
        self.spec = spec
        super().__init__(
            f"Conda package spec {spec!r} cannot be used: {why}. Write it as name, name=1.2 "
            "(prefix match), name==1.2.3 or name>=1.2,<2, or move it to pip_packages."
        )


class CondaPackageNotMappable(UserErrorException):
    """A conda package with no PyPI twin: there is no conda here to install it."""

    def __init__(self, name: str, hint: str | None, *, message: str | None = None) -> None:
        self.names = [name]
        detail = f" ({hint})" if hint else ""
        super().__init__(
            message
            or f"Conda package {name!r} has no PyPI equivalent{detail}, and Runyard builds "
            "environments with pip packages only (no conda). Remove it from conda_packages / "
            "the conda YAML, or list a PyPI package that provides it in pip_packages."
        )

    @classmethod
    def many(cls, errors: list[CondaPackageNotMappable]) -> CondaPackageNotMappable:
        names = [n for e in errors for n in e.names]
        exc = cls(
            names[0],
            None,
            message=f"Conda packages {names} have no PyPI equivalent, and Runyard builds "
            "environments with pip packages only (no conda). Remove them from conda_packages "
            "/ the conda YAML, or list PyPI packages that provide them in pip_packages. "
            + " ".join(str(e) for e in errors),
        )
        exc.names = names
        return exc


class EnvironmentSpecConflict(UserErrorException):
    def __init__(self, requirement: str, pin: str, environment: str) -> None:
        super().__init__(
            f"pip package {requirement!r} conflicts with {pin!r}, which environment "
            f"{environment!r} pins because its framework needs it. Drop the version from "
            f"{requirement!r} (an unpinned name keeps the pin), or, to override on purpose, "
            f"remove {pin!r} from env.python.build_settings.constraints."
        )


class EnvironmentBuildFailed(RunyardError):
    """uv could not build the environment; the message ends with uv's own output."""

    def __init__(self, spec_hash: str, step: str, uv_output: str) -> None:
        self.spec_hash = spec_hash
        self.uv_output = uv_output
        super().__init__(
            f"Building environment {spec_hash[:12]} failed while {step}. Nothing was kept, "
            "so the next run builds it again; fix the package list (see uv's message below) "
            f"and resubmit.\nuv said:\n{uv_output.strip()}"
        )


class EnvironmentBuildStopped(RunyardError):
    """The build was stopped on purpose (the run was canceled or its agent is stopping)."""

    def __init__(self, spec_hash: str, step: str) -> None:
        self.spec_hash = spec_hash
        super().__init__(
            f"Building environment {spec_hash[:12]} was stopped while {step}, because its run "
            "was canceled or the agent is stopping. Nothing was kept; the next run that needs "
            "it builds it again."
        )


class EnvironmentNotFound(NotFoundError, UserErrorException):
    def __init__(self, name: str, version: str | None = None, *, label: str | None = None) -> None:
        if label is not None:
            which = f"version of environment {name!r} labelled {label!r}"
            fix = f"Label one with Environment.label(workspace, {name!r}, version, [{label!r}]); "
        else:
            which = (
                f"version {version!r} of environment {name!r}"
                if version
                else (f"environment named {name!r}")
            )
            fix = "Register it with env.register(workspace); "
        super().__init__(
            f"No {which} in this workspace. {fix}"
            "list registered and curated environments with Environment.list(workspace)."
        )


class InvalidEnvironmentDefinition(UserErrorException):
    """A bad Environment setting or file (the message names it)."""


class PipConfigError(UserErrorException):
    """The machine's pip configuration (pip.conf, PIP_* variables) cannot be used."""


class PinNotInstallable(UserErrorException):
    """Strict pins: an exact pin has no build for the interpreter; nothing was built."""

    def __init__(self, pins: list[tuple[str, str]]) -> None:
        self.pins = pins  # (the pin, the nearest installable version or None's text)
        listed = "; ".join(f"{pin} (nearest installable: {nearest})" for pin, nearest in pins)
        super().__init__(
            f"Strict pins: {listed}. RUNYARD_STRICT_PINS=1 (in the agent's environment or the "
            "Environment's environment_variables) refuses to substitute them. Pin the nearest "
            "installable version instead, or unset RUNYARD_STRICT_PINS to build with the "
            "substitution (a WARNING in the build log and the run's details)."
        )


class AzureMLCompatConflict(UserErrorException):
    """``runyard compat enable`` found a real azureml-core where it would install the hook."""

    def __init__(self, distribution: str, version: str, site_packages: str) -> None:
        super().__init__(
            f"{distribution} {version} is installed in {site_packages}, so `runyard compat "
            "enable` would make `import azureml` ambiguous there. Use a separate virtualenv "
            f"for Runyard, or remove it with `pip uninstall {distribution}`, then run "
            "`runyard compat enable` again."
        )


class StoreSchemaUnknown(RunyardError):
    http_status = 500

    def __init__(self, uri: str, revision: str) -> None:
        super().__init__(
            f"The metadata store {uri!r} has schema revision {revision!r}, which this Runyard "
            "does not know: it was written by a newer Runyard. Upgrade with "
            "`pip install -U runyard`, or point RUNYARD_STORE_URI at another store."
        )


# ---- compute targets, datastores, datasets (issue 4) ---------------------------------------


class ComputeTargetNotFound(NotFoundError, ComputeTargetException):
    http_status = 404

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"ComputeTargetNotFound: Compute Target with name {name} not found in provided "
            "workspace. Create it with ComputeTarget.create(ws, "
            f"{name!r}, AmlCompute.provisioning_configuration(vm_size=..., max_nodes=...)); "
            "list existing ones with ws.compute_targets."
        )


class ComputeTargetExists(ComputeTargetException):
    http_status = 409

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"A compute target named {name!r} already exists in this workspace. Use it with "
            f"ComputeTarget(ws, {name!r}), pick another name, or delete it first with "
            "compute_target.delete()."
        )


class ServiceNotFound(NotFoundError, WebserviceException):
    http_status = 404

    def __init__(self, name: str, existing: list[str] | None = None) -> None:
        self.name = name
        known = f" Services of this workspace: {', '.join(existing)}." if existing else ""
        super().__init__(
            f"WebserviceNotFound: Webservice with name {name} not found in provided workspace."
            f"{known} List them with Webservice.list(ws) or `runyard services list`; deploy "
            "one with Model.deploy(ws, name, models, inference_config, deployment_config)."
        )


class ServiceExists(WebserviceException):
    http_status = 409

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"Error, there is already a service with name {name} found in workspace. Pass "
            f"overwrite=True to Model.deploy to replace it, pick another name, or delete it "
            f"first with Webservice(ws, {name!r}).delete()."
        )


class DatastoreNotFound(NotFoundError, UserErrorException):
    http_status = 404

    def __init__(self, name: str, existing: list[str] | None = None) -> None:
        self.name = name
        known = f"Datastores in this workspace: {existing}. " if existing else ""
        super().__init__(
            f"No datastore named {name!r} in this workspace. {known}Use "
            "ws.get_default_datastore() for the workspace's folder datastore, or list them "
            "with ws.datastores."
        )


class DatastoreExists(UserErrorException):
    http_status = 409

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"A datastore named {name!r} is already registered in this workspace. Get it with "
            f"Datastore.get(ws, {name!r}), or register with overwrite=True to replace it."
        )


class DatasetNotFound(NotFoundError, UserErrorException):
    http_status = 404

    def __init__(
        self, name: str, version: int | None = None, existing: list[int] | None = None
    ) -> None:
        self.name = name
        which = f"version {version} of dataset {name!r}" if version else f"dataset named {name!r}"
        known = f"Versions of {name!r} that exist: {existing}. " if existing else ""
        super().__init__(
            f"No {which} in this workspace. {known}Register one with "
            f"dataset.register(ws, {name!r}); list registered datasets with ws.datasets."
        )


class DatasetExists(UserErrorException):
    http_status = 409

    def __init__(self, name: str, version: int) -> None:
        self.name = name
        super().__init__(
            f"A different dataset is already registered as {name!r} (version {version}). "
            f"Pass create_new_version=True to register this one as version {version + 1}, "
            "or pick another name."
        )


class DatasetPathNotFound(UserErrorException):
    """Dataset.File/Tabular.from_*(validate=True) found no file at a path."""

    http_status = 400


class InvalidModelRequest(WebserviceException, UserErrorException):
    """A bad model call (missing local path, download clash, no name): v1 raises
    WebserviceException for these, so both v1's and Runyard's ``except`` clauses catch it."""

    http_status = 400


class DiskFull(RunyardError):
    """Writing ``path`` failed because its file system is full (ENOSPC / EDQUOT, or SQLite's
    "database or disk is full"). What was stored before is intact."""

    http_status = 507

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        super().__init__(
            f"The disk is full: {what} could not be written to {path!r} "
            f"({_free_space(path)}). Free space there (for example `runyard envs prune`, or "
            "remove old runs' files), or set RUNYARD_HOME to a folder on a larger disk."
        )


def _free_space(path: str) -> str:
    """'0 bytes free of 2.0 MB on /mnt/x' for the file system holding ``path``."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return "free space unknown"
    return f"{_size(usage.free)} free of {_size(usage.total)} on the file system of {folder}"


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


# ---- the metadata store's file (hardening: the database is never quietly lost) ------------


class StoreCorrupt(RunyardError):
    """The SQLite file is empty, truncated or damaged; it was left as it is."""

    http_status = 500

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(
            f"The metadata store {path} {problem}. Nothing was changed and no new database "
            "is made over it. Restore a backup with `runyard workspace restore BACKUP -w "
            "NAME`, or see what is wrong with `runyard workspace check NAME`."
        )


class StoreReadOnly(RunyardError):
    """A write to a metadata store this process may only read."""

    http_status = 403

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(
            f"Cannot write the metadata store {path}: {problem}. Reads still work. To write, "
            "give this user write permission there (or mount it read-write), or set "
            "RUNYARD_HOME to a writable folder."
        )


# ---- secrets (hardening: private by default) ---------------------------------------------


class SecretNotFound(UserErrorException):
    """No secret of that name in the workspace's key vault."""

    http_status = 404

    def __init__(self, name: str, workspace: str) -> None:
        self.name = name
        super().__init__(
            f"Secret {name!r} not found in the key vault of workspace {workspace}. List the "
            "names with ws.get_default_keyvault().list_secrets(); set it with "
            f"ws.get_default_keyvault().set_secret({name!r}, value)."
        )


# ---- uploads (hardening: nothing already stored is replaced) ------------------------------


class ArtifactExists(UserErrorException):
    """An upload to a name that already holds a file (v1: "Resource Conflict")."""

    http_status = 409

    def __init__(self, names: list[str], where: str) -> None:
        self.names = list(names)
        shown = ", ".join(f"{where}/{n}" for n in names[:20])
        more = f" (and {len(names) - 20} more)" if len(names) > 20 else ""
        super().__init__(
            f"Resource Conflict: ArtifactId {shown}{more} already exists. Nothing was "
            "uploaded: a stored file is never replaced. Upload under another name (e.g. "
            "'outputs/model_2.pkl'); files the script writes to ./outputs are uploaded at the "
            "end of the run without a call."
        )


# ---- HyperDrive (v1's azureml.train.hyperdrive.exceptions) -------------------------------


class HyperDriveException(AzureMLException):
    """Base of the errors HyperDrive raises (v1's name and place in the tree)."""


class HyperDriveServiceException(HyperDriveException):
    """The sweep engine could not do what was asked of it."""


class HyperDriveConfigException(HyperDriveException):
    """A HyperDrive configuration (sampling, policy, HyperDriveConfig) is invalid."""

    http_status = 400


class HyperDriveScenarioNotSupportedException(HyperDriveConfigException):
    """The configuration asks for something HyperDrive does not support."""


class HyperDriveNotImplementedException(HyperDriveScenarioNotSupportedException):
    """A HyperDriveRun method v1 also leaves unimplemented (fail, get_diagnostics)."""

    http_status = 501


class HyperDriveRehydrateException(HyperDriveException):
    """A stored sweep's configuration cannot be read back into a HyperDriveConfig."""
