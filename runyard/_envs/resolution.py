"""What an EnvSpec resolves to on this machine, and the cache key that includes it.

The same definition can install differently here than where it was written: its Python may
be missing (the host Python is used), and its exact pins may have no build for the
interpreter (``pins``). Both substitutions are part of the environment's cache key, and
both are WARNING lines in the build log, on a cache hit too (the run's details list them).

``<envs_root>/<base key>.resolution.json`` remembers a definition's resolution under the
machine's pip configuration, so a cache hit needs no uv call: base key -> resolution ->
environment key -> ``<envs_root>/<environment key>``. Records are files beside the
environments' folders and locks, so the cache holds one folder per environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard._config import private_opener
from runyard._envs.build_settings import BuildSettings
from runyard._envs.pins import Substitution, apply, check_pins
from runyard._envs.pip_config import own_index
from runyard._envs.spec import EnvSpec
from runyard._envs.uv_run import compile_runner
from runyard.exceptions import PinNotInstallable

LogFn = Callable[[str], None]
RECORD_SUFFIX = ".resolution.json"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Resolution:
    interpreter: str  # the base interpreter the venv is made from
    python_version: str
    python_requested: str | None
    python_missing: bool  # the requested Python is not here: the host Python is used
    substitutions: tuple[Substitution, ...] = ()
    notes: tuple[str, ...] = ()  # other WARNING lines (a torch that is not the CPU build)

    def requirements(self, spec: EnvSpec) -> tuple[str, ...]:
        return apply(spec.requirements, self.substitutions)

    def warnings(self, host_python: str) -> list[str]:
        lines = []
        if self.python_missing:
            lines.append(
                f"WARNING: Python {self.python_requested} is not installed on this machine "
                f"and Runyard does not download interpreters; using the host Python "
                f"{host_python} (Python {self.python_version}) instead. Install that Python "
                "(e.g. with pyenv or apt) or set the environment's python version to one "
                "that is installed to silence this."
            )
        lines.extend(s.warning(self.python_version) for s in self.substitutions)
        lines.extend(self.notes)
        return lines

    def key(self, base: str) -> str:
        body = {
            "base": base,
            "interpreter": self.interpreter,
            "python_version": self.python_version,
            "substitutions": [s.line for s in self.substitutions],
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "interpreter": self.interpreter,
            "python_version": self.python_version,
            "python_requested": self.python_requested,
            "python_missing": self.python_missing,
            "substitutions": [s.to_dict() for s in self.substitutions],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resolution:
        return cls(
            interpreter=data["interpreter"],
            python_version=data["python_version"],
            python_requested=data.get("python_requested"),
            python_missing=bool(data.get("python_missing")),
            substitutions=tuple(Substitution.from_dict(s) for s in data.get("substitutions", [])),
            notes=tuple(data.get("notes", [])),
        )


def base_key(spec: EnvSpec, settings: BuildSettings) -> str:
    """The definition under this machine's pip configuration and host Python."""
    body = f"{spec.hash}\n{settings.pip_identity}\n{settings.host_python}"
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record_path(envs_root: Path, base: str) -> Path:
    return envs_root / f"{base}{RECORD_SUFFIX}"


def read_record(envs_root: Path, base: str) -> Resolution | None:
    try:
        data = json.loads(record_path(envs_root, base).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None  # never resolved here, or torn by a crash: resolve again
    if data.get("format") != _FORMAT:
        return None
    return Resolution.from_dict(data["resolution"])


def write_record(envs_root: Path, base: str, resolution: Resolution) -> None:
    tmp = envs_root / f".{base}.resolution-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", opener=private_opener) as f:
        json.dump({"format": _FORMAT, "base": base, "resolution": resolution.to_dict()}, f)
    os.replace(tmp, record_path(envs_root, base))


def record_key(record: Path) -> str | None:
    """The environment key a record points at (None for a broken record)."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        return Resolution.from_dict(data["resolution"]).key(data["base"])
    except (OSError, ValueError, KeyError):
        return None


def check_strict(resolution: Resolution, *, strict: bool) -> None:
    """Raises PinNotInstallable when strict and anything was substituted."""
    if not strict:
        return
    pins = [(s.requirement, s.chosen or "none") for s in resolution.substitutions]
    if resolution.python_missing:
        pins.insert(
            0,
            (f"python={resolution.python_requested}", f"Python {resolution.python_version}"),
        )
    if pins:
        raise PinNotInstallable(pins)


def resolve(spec: EnvSpec, settings: BuildSettings, log: LogFn) -> Resolution:
    """Picks the interpreter and finds what rotten pins need (``uv pip compile`` calls)."""
    interpreter, missing = _pick_python(spec.python_version, settings, log)
    version = _python_version(interpreter)
    described = settings.pip.describe()
    if described:
        log(described)
    with _constraint_options(spec, settings) as options:
        check = check_pins(
            spec.requirements,
            python=interpreter,
            python_version=version,
            options=options,
            option_lines=spec.pip_options,
            compile_=compile_runner(settings, spec.hash),
        )
    notes = list(settings.pip.skipped)
    torch = check.resolved.get("torch")
    if torch is not None and "+cpu" not in torch:
        notes.append(
            f"WARNING: torch=={torch} resolves to a CUDA build of several GB: no CPU wheel of "
            "it is in a find-links folder (PIP_FIND_LINKS or pip.conf find-links). Put the "
            "torch CPU wheel in such a folder to build with it."
        )
    return Resolution(
        interpreter=interpreter,
        python_version=version,
        python_requested=spec.python_version,
        python_missing=missing,
        substitutions=check.substitutions,
        notes=tuple(notes),
    )


def uv_pip_options(spec: EnvSpec, settings: BuildSettings) -> list[str]:
    """uv flags for pip's configuration (the environment's own index wins, as in pip)."""
    return settings.pip.uv_args(own_index=own_index(spec.pip_options))


@contextlib.contextmanager
def _constraint_options(spec: EnvSpec, settings: BuildSettings) -> Iterator[list[str]]:
    options = uv_pip_options(spec, settings)
    if not spec.constraints:
        yield options
        return
    # Named like a build's temporary folder, so prune leaves it alone while the lock is held
    # and removes it if this process dies.
    prefix = f".{spec.hash}.tmp-resolve-"
    with tempfile.TemporaryDirectory(dir=settings.envs_root, prefix=prefix) as tmp:
        path = Path(tmp) / "constraints.txt"
        path.write_text("\n".join(spec.constraints) + "\n", encoding="utf-8")
        yield [*options, "--constraint", str(path)]


def _pick_python(requested: str | None, settings: BuildSettings, log: LogFn) -> tuple[str, bool]:
    """(interpreter, whether the requested one is missing and the host's is used)."""
    if requested is None:
        return settings.host_python, False
    proc = subprocess.run(
        [settings.uv, "python", "find", "--no-python-downloads", "--no-project", requested],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.envs_root,
    )
    found = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and found:
        log(f"Python {requested} requested; using {found[-1]}.")
        return found[-1], False
    return settings.host_python, True


def _python_version(interpreter: str) -> str:
    proc = subprocess.run(
        [interpreter, "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.stdout.strip() or "?"
