"""What one generation of a web service needs before it serves: its source folder in place,
its models under ``azureml-models/<name>/<version>/`` (v1's layout), its environment built
with the serving packages added, and the launch record the serving backend starts.

Called by the agent (``service_keeper``), one preparation thread per service.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runyard._envs import resolve_spec
from runyard._envs.builder import default_build_settings, ensure_env
from runyard._envs.spec import requirement_name
from runyard._services import Services, registry
from runyard._services.job_setup import job_python_path
from runyard._serving.base import ServiceLaunch
from runyard._serving.host import LOG
from runyard.exceptions import WebserviceException

# What the scoring worker (runyard.scoring) imports, added to the model's environment.
SERVING_REQUIREMENTS = ("fastapi>=0.110", "uvicorn>=0.30", "httptools>=0.6", "uvloop>=0.19")
MODELS_FOLDER = "azureml-models"
APP_FOLDER = "app"


def service_folder(services: Services, name: str) -> Path:
    return services.layout.services_dir / name


def generation_folder(services: Services, name: str, generation: int) -> Path:
    return service_folder(services, name) / f"gen-{generation}"


def log_to_service(services: Services, name: str) -> Callable[[str], None]:
    """A log function appending lines to the service's log (what get_logs() shows)."""
    path = service_folder(services, name) / LOG

    def log(line: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (line.rstrip("\n") + "\n").encode())
        finally:
            os.close(fd)

    return log


def place_models(services: Services, models: list[Mapping[str, Any]], root: Path) -> Path:
    """Copies each model to ``root/azureml-models/<name>/<version>/``; returns
    AZUREML_MODEL_DIR: that folder for one model, ``azureml-models`` for several."""
    base = root / MODELS_FOLDER
    placed = []
    for entry in models:
        mv = registry.get_model(services, str(entry["name"]), int(entry["version"]))
        target = base / mv.name / str(mv.version)
        registry.download_model(services, mv, target, exist_ok=True)
        placed.append(target)
    return placed[0] if len(placed) == 1 else base


def serving_python(
    services: Services, environment: Mapping[str, Any], log: Callable[[str], None]
) -> str:
    """The model environment's interpreter, with the scoring server's packages in it."""
    resolved = resolve_spec(environment)
    for note in resolved.notes:
        log(note)
    spec = resolved.spec
    if not spec.user_managed:
        names = {requirement_name(r) for r in spec.requirements}
        extra = tuple(r for r in SERVING_REQUIREMENTS if requirement_name(r) not in names)
        spec = dataclasses.replace(spec, requirements=tuple(sorted(spec.requirements + extra)))
    build = default_build_settings(services.settings.home, host_python=sys.executable)
    return ensure_env(spec, build, log=log).python


def prepare_generation(
    services: Services, name: str, generation: int, spec: Mapping[str, Any]
) -> ServiceLaunch:
    """Lays out generation ``generation`` of service ``name`` and builds its environment.

    Raises:
        WebserviceException: the source folder or a model is missing.
        RunyardError: the environment cannot be built (uv's output is in the service log).
    """
    log = log_to_service(services, name)
    inference = spec["inference"]
    deployment = spec["deployment"]
    root = generation_folder(services, name, generation)
    app = root / APP_FOLDER
    staging = Path(str(spec.get("staging") or ""))
    if not app.exists():
        if not staging.is_dir():
            raise WebserviceException(
                f"The source folder of service {name!r} (version {generation}) is gone from "
                f"{staging}; deploy again with Model.deploy(..., overwrite=True)."
            )
        root.mkdir(parents=True, exist_ok=True)
        os.replace(staging, app)
    log(f"Preparing version {generation}: placing {len(spec['models'])} model(s)")
    model_dir = place_models(services, list(spec["models"]), root)
    log("Preparing the environment (built once, then cached)")
    python = serving_python(services, inference["environment"], log)
    path = job_python_path(services, built_env=True)
    return ServiceLaunch(
        name=name,
        generation=generation,
        python=python,
        app_root=str(root),
        source_directory=str(app),
        entry_script=str(app / inference["entry_script"]),
        model_dir=str(model_dir),
        env={"PYTHONPATH": os.pathsep.join(path)},
        workers=int(deployment.get("workers") or 1),
        host=str(deployment.get("host") or services.settings.serving_host),
        port=deployment.get("port") or None,
        cpu_cores=deployment.get("cpu_cores"),
        memory_gb=deployment.get("memory_gb"),
        timeout_ms=int(deployment.get("scoring_timeout_ms") or 60_000),
        max_body_bytes=int(deployment.get("max_body_bytes") or 100 * 1024 * 1024),
    )


def remove_old_generations(services: Services, name: str, keep: int) -> None:
    """Removes generation folders older than ``keep`` (the one served)."""
    folder = service_folder(services, name)
    for child in folder.glob("gen-*"):
        suffix = child.name[4:]
        if suffix.isdigit() and int(suffix) < keep:
            shutil.rmtree(child, ignore_errors=True)
