"""Errors Runyard raises on purpose.

Every error names what was wrong and how to fix it. The azureml v1 exception names
(``UserErrorException``, ``ActivityFailedException`` ...) are kept as subclasses so that
``except`` clauses written for v1 keep working.
"""

from __future__ import annotations


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
