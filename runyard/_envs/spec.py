"""An environment definition -> the normalized spec the builder builds, and its hash.

The hash keys the cache (``<envs_root>/<hash>``), so it covers everything that changes
what is installed (Python version, requirements, constraints, pip options, build settings)
and nothing else (names, docker settings, environment variables). Requirement order does
not matter; pip option order does (index URLs are tried in order).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from runyard._envs import gpu
from runyard._envs.conda_map import map_conda_packages
from runyard._envs.curated import curated_notices
from runyard._envs.curated_table import CHAINER_CONSTRAINTS, CHAINER_PRE_INSTALL
from runyard.exceptions import (
    EnvironmentSpecConflict,
    InvalidEnvironmentDefinition,
    UserErrorException,
)

SPEC_FORMAT = 1
STRICT_PINS_VARIABLE = "RUNYARD_STRICT_PINS"
# azureml packages whose names Runyard itself provides (runyard.compat); installing the
# real ones would pull the Azure SDK and shadow Runyard.
PROVIDED_BY_RUNYARD = frozenset(
    {
        "azureml-defaults",
        "azureml-core",
        "azureml-sdk",
        "azureml-train",
        "azureml-train-core",
        "azureml-train-restclients-hyperdrive",
        "azureml-widgets",
        "azureml-dataset-runtime",
        "azureml-dataprep",
        "azureml-telemetry",
        "azureml-opendatasets",
        "azureml-mlflow",
        "azureml-inference-server-http",
        "azureml-contrib-services",
    }
)


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """What to build. ``python_version`` None means the host interpreter."""

    python_version: str | None
    requirements: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    pip_options: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()
    no_build_isolation: tuple[str, ...] = ()
    user_managed: bool = False
    interpreter_path: str | None = None
    # The environment's own RUNYARD_STRICT_PINS (None: the agent's setting applies). Not in
    # the hash: it never changes what is installed, only whether a substitution may be.
    strict_pins: bool | None = None

    def canonical_json(self) -> str:
        data = asdict(self)
        del data["strict_pins"]
        data["format"] = SPEC_FORMAT
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ResolvedSpec:
    spec: EnvSpec
    notes: tuple[str, ...]  # lines for the build log (dropped packages, guesses)


def normalize_requirement(line: str) -> str:
    """'NumPy >= 1.2' -> 'numpy>=1.2'; lines packaging cannot parse (paths, VCS URLs) stay."""
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return line.strip()
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    spec = ",".join(sorted(str(s) for s in req.specifier))
    url = f" @ {req.url}" if req.url else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{canonicalize_name(req.name)}{extras}{spec}{url}{marker}"


def requirement_name(line: str) -> str | None:
    """The canonical project name of a requirement line; None for what packaging cannot
    parse (paths, VCS URLs)."""
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return None


def _sorted_unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({normalize_requirement(i) for i in items if i.strip()}))


def resolve_spec(
    definition: Mapping[str, Any], *, gpu_present: Callable[[], bool] = gpu.gpu_present
) -> ResolvedSpec:
    """An Environment definition (``Environment._serialize_to_dict()``) -> EnvSpec.

    ``gpu_present`` is asked only when the environment names a CUDA build of cupy.

    Raises:
        InvalidCondaSpec / CondaPackageNotMappable: a conda package pip cannot install.
        EnvironmentSpecConflict: a user pin contradicts a curated constraint.
    """
    name = str(definition.get("name", "<unnamed>"))
    python = definition.get("python") or {}
    if python.get("userManagedDependencies"):
        interpreter = python.get("interpreterPath") or "python"
        return ResolvedSpec(
            EnvSpec(python_version=None, user_managed=True, interpreter_path=interpreter),
            (f"userManagedDependencies=True: using interpreter {interpreter!r}, no build.",),
        )
    conda = python.get("condaDependencies") or {}
    conda_specs: list[str] = []
    pip_lines: list[str] = []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, dict):
            pip_lines.extend(str(p).strip() for p in dep.get("pip") or [])
        else:
            conda_specs.append(str(dep))
    notes: list[str] = list(curated_notices(name))
    mapped, python_version = map_conda_packages(conda_specs)
    # conda's "pip" package is the installer itself; uv installs without it.
    mapped = [m for m in mapped if requirement_name(m) != "pip"]
    options = [p for p in pip_lines if p.startswith("-")]
    requirements: list[str] = []
    for line in [p for p in pip_lines if p and not p.startswith("-")] + mapped:
        pkg = requirement_name(line)
        if pkg in PROVIDED_BY_RUNYARD:
            notes.append(f"{line}: provided by Runyard (azureml.* resolves to runyard), skipped.")
            continue
        if pkg is not None and pkg.startswith("azureml-"):
            # the real package would shadow Runyard's azureml.* (and pull the Azure SDK)
            notes.append(
                f"{line}: skipped: azureml.* resolves to Runyard, which has no {pkg}; what "
                "its imports need is listed in the README's 'Supported azureml v1 names'."
            )
            continue
        requirements.append(line)
    build = python.get("runyardBuild") or {}
    constraints = [str(c) for c in build.get("constraints") or []]
    pre_install = [str(p) for p in build.get("preInstallPackages") or []]
    no_isolation = [str(p) for p in build.get("noBuildIsolationPackages") or []]
    requirements = _without_cuda_wheels(requirements, notes, gpu_present=gpu_present)
    if "chainer" in {requirement_name(r) for r in requirements} and "chainer" not in no_isolation:
        _add_chainer_recipe(requirements, constraints, pre_install, no_isolation, notes)
    check_constraints(requirements, constraints, environment=name)
    for item in _options_in(options):
        if item not in ("--index-url", "--extra-index-url", "--find-links", "-f", "-i", "--pre"):
            notes.append(f"pip option {item} is passed to uv as is.")
    variables = definition.get("environmentVariables") or {}
    try:
        where = f"env.environment_variables of environment {name!r}"
        strict = parse_strict_pins(variables.get(STRICT_PINS_VARIABLE), where=where)
    except UserErrorException as exc:
        raise InvalidEnvironmentDefinition(str(exc)) from None
    return ResolvedSpec(
        EnvSpec(
            python_version=python_version,
            requirements=_sorted_unique(requirements),
            constraints=_sorted_unique(constraints),
            pip_options=tuple(options),
            pre_install=_sorted_unique(pre_install),
            no_build_isolation=tuple(sorted({canonicalize_name(p) for p in no_isolation})),
            strict_pins=strict,
        ),
        tuple(notes),
    )


def _without_cuda_wheels(
    requirements: list[str], notes: list[str], *, gpu_present: Callable[[], bool]
) -> list[str]:
    """CUDA builds of cupy (cupy-cuda111, cupy-cuda12x ...) need a GPU to import: on a node
    without one they are left out with a WARNING, and the run uses the CPU (as the curated
    GPU environments do)."""
    cuda = [r for r in requirements if (requirement_name(r) or "").startswith("cupy-cuda")]
    if not cuda or gpu_present():
        return requirements
    for line in cuda:
        notes.append(
            f"WARNING: {line}: this node has no GPU, so it is left out and the run uses the CPU."
        )
    return [r for r in requirements if r not in cuda]


def _add_chainer_recipe(
    requirements: Sequence[str],
    constraints: list[str],
    pre_install: list[str],
    no_isolation: list[str],
    notes: list[str],
) -> None:
    """chainer has no wheels: its sdist builds only with an older setuptools (it imports
    pkg_resources) and without build isolation, and its 7.x code needs numpy < 1.24, as in
    the curated Chainer environments. A numpy or setuptools the user pins or constrains is
    left alone."""
    # An unpinned "numpy" (the Chainer notebook's conda list has one) still gets the bound.
    pinned = [r for r in requirements if re.search(r"[<>=!~@]", r)]
    named = {requirement_name(r) for r in [*pinned, *constraints]}
    added = [c for c in CHAINER_CONSTRAINTS if requirement_name(c) not in named]
    constraints.extend(added)
    pre_install.extend(p for p in CHAINER_PRE_INSTALL if p not in pre_install)
    no_isolation.append("chainer")
    shown = f" and the constraints {', '.join(added)}" if added else ""
    notes.append(
        f"chainer builds from its sdist: with {', '.join(CHAINER_PRE_INSTALL)} installed first "
        f"and no build isolation{shown}, as in the curated Chainer environments."
    )


def _options_in(options: Sequence[str]) -> list[str]:
    return [re.split(r"[\s=]", o, maxsplit=1)[0] for o in options]


def check_constraints(
    requirements: Sequence[str], constraints: Sequence[str], *, environment: str
) -> None:
    """Raises EnvironmentSpecConflict when a requirement's versions and a constraint's
    cannot overlap (an exact pin outside it, or disjoint bounds). Anything subtler is left
    to uv's resolver, whose message names both."""
    pins: dict[str, list[tuple[str, SpecifierSet]]] = {}
    for line in constraints:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            raise InvalidEnvironmentDefinition(
                f"Constraint {line!r} of environment {environment!r} is not a requirement "
                "such as 'numpy<1.24'."
            ) from None
        pins.setdefault(canonicalize_name(req.name), []).append((line, req.specifier))
    for line in requirements:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        for pin_line, pin_spec in pins.get(canonicalize_name(req.name), []):
            if req.specifier and _disjoint(req.specifier, pin_spec):
                raise EnvironmentSpecConflict(line, pin_line, environment)


def _bounds(
    spec: SpecifierSet,
) -> tuple[list[tuple[Version, bool]], list[tuple[Version, bool]], list[Specifier]]:
    lows: list[tuple[Version, bool]] = []  # (version, inclusive)
    highs: list[tuple[Version, bool]] = []
    exact: list[Specifier] = []
    for s in spec:
        try:
            v = Version(s.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        if s.operator in (">=", ">", "~="):
            lows.append((v, s.operator != ">"))
        elif s.operator in ("<=", "<"):
            highs.append((v, s.operator == "<="))
        elif s.operator in ("==", "===") and not s.version.endswith(".*"):
            exact.append(s)
            lows.append((v, True))
            highs.append((v, True))
        elif s.operator == "==":
            lows.append((v, True))
    return lows, highs, exact


def _disjoint(a: SpecifierSet, b: SpecifierSet) -> bool:
    a_low, a_high, a_exact = _bounds(a)
    b_low, b_high, b_exact = _bounds(b)
    for s in a_exact:
        if not b.contains(s.version, prereleases=True):
            return True
    for s in b_exact:
        if not a.contains(s.version, prereleases=True):
            return True
    for low, low_incl in a_low + b_low:
        for high, high_incl in a_high + b_high:
            if low > high or (low == high and not (low_incl and high_incl)):
                return True
    return False


def parse_strict_pins(raw: str | None, *, where: str) -> bool | None:
    """RUNYARD_STRICT_PINS as a bool (None when unset or empty)."""
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise UserErrorException(
        f"{STRICT_PINS_VARIABLE}={raw!r} ({where}) is not a boolean. Set it to 1 to fail a "
        "build whose exact pin has no build for the interpreter, or to 0 (or unset it) to "
        "substitute the oldest later release with a WARNING."
    )


def docker_notice(definition: Mapping[str, Any], *, use_docker: bool = False) -> str | None:
    """The driver-log line saying the environment's image was recorded but not used."""
    docker = definition.get("docker") or {}
    image = docker.get("baseImage") or (
        "a base_dockerfile" if docker.get("baseDockerfile") else docker.get("buildContext")
    )
    if not image and not use_docker:
        return None
    what = f"Docker image {image!r}" if image else "Docker"
    return (
        f"{what} was not used: Runyard runs jobs in a uv virtualenv on this node (no "
        "container engine); the docker settings are recorded with the run."
    )
