"""Dependency rot: exact pins with no build for the interpreter, and what to install instead.

v1 environments pin the releases of their day (``scikit-learn==0.22.1``, ``pillow==6.2.1``),
which have wheels only for the Pythons of then. uv finds what to do, in ``uv pip compile``
calls that download nothing but index pages:
1. every exact pin at once, ``--no-deps --only-binary <each>``, for the build's interpreter:
   success means each has a wheel here (one call, the usual case);
2. a pin uv reports with "no usable wheels" is rot when that release has wheels for an older
   Python on this platform; a release without any (chainer 7.8.1) is an sdist that pip
   would build from source, and is left alone;
3. its substitute: ``<name>>=<version>``, ``--resolution lowest-direct --only-binary <name>``:
   the oldest later release that installs here, its dependencies resolved as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# (uv pip compile arguments, requirements text on stdin) -> (exit code, uv's output)
UvCompile = Callable[[list[str], str], tuple[int, str]]

# Where wheels of a rotten pin may be found: newest first, so the first hit is the last
# Python the release was built for.
OLDER_PYTHONS = ("3.10", "3.9", "3.8", "3.7", "3.6", "3.5")
_NO_WHEELS = re.compile(
    r"Because (?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+?) has no "
    r"(?:usable wheels|wheels with a matching)"
)
_PINNED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


@dataclass(frozen=True, slots=True)
class Substitution:
    requirement: str  # as written: "scikit-learn==0.22.1"
    name: str  # canonical: "scikit-learn"
    pinned: str  # "0.22.1"
    chosen: str | None  # "1.1.3"; None when no later release installs either
    line: str  # the requirement installed instead: "scikit-learn==1.1.3"
    built_for: str  # the newest older Python it has wheels for: "3.8"

    def warning(self, python_version: str) -> str:
        head = (
            f"WARNING: {self.requirement} has no build for Python {python_version} (its "
            f"newest wheels are for Python {self.built_for})"
        )
        if self.chosen is None:
            return (
                f"{head}, and no later release installs here either; the install will fail. "
                f"Drop the pin or choose a Python {self.built_for} environment."
            )
        return (
            f"{head}; using {self.name}=={self.chosen}, the oldest later release that "
            f"installs. Pin {self.name}=={self.chosen} to silence this, or set "
            "RUNYARD_STRICT_PINS=1 to fail instead."
        )

    def to_dict(self) -> dict[str, str | None]:
        return {
            "requirement": self.requirement,
            "name": self.name,
            "pinned": self.pinned,
            "chosen": self.chosen,
            "line": self.line,
            "built_for": self.built_for,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> Substitution:
        return cls(
            requirement=str(data["requirement"]),
            name=str(data["name"]),
            pinned=str(data["pinned"]),
            chosen=data.get("chosen"),
            line=str(data["line"]),
            built_for=str(data.get("built_for") or "?"),
        )


@dataclass(frozen=True, slots=True)
class _Pin:
    line: str
    name: str
    version: str  # without a trailing ".*"
    extras: str
    marker: str


@dataclass(frozen=True, slots=True)
class PinCheck:
    substitutions: tuple[Substitution, ...]
    resolved: dict[str, str]  # canonical name -> the version uv picked for an exact pin


def exact_pins(requirements: Sequence[str], python_version: str) -> list[_Pin]:
    """Requirements pinned with == (conda's name=1.2 becomes ==1.2.*) that apply here."""
    env = {k: str(v) for k, v in default_environment().items()}
    env["python_version"] = ".".join(python_version.split(".")[:2])
    env["python_full_version"] = python_version
    pins: list[_Pin] = []
    for line in requirements:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # a path or URL line: nothing to pin
        exact = [s for s in req.specifier if s.operator in ("==", "===")]
        if req.url or not exact:
            continue
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        version = exact[0].version.removesuffix(".*")
        pins.append(_Pin(line, canonicalize_name(req.name), version, extras, marker))
    return pins


def check_pins(
    requirements: Sequence[str],
    *,
    python: str,
    python_version: str,
    options: Sequence[str],
    option_lines: Sequence[str],
    compile_: UvCompile,
) -> PinCheck:
    """The substitutions rotten exact pins need; ``options`` are uv's index and constraint
    flags, ``option_lines`` the environment's own pip option lines."""
    pending = {pin.name: pin for pin in exact_pins(requirements, python_version)}
    substitutions: list[Substitution] = []
    resolved: dict[str, str] = {}
    head = "\n".join(option_lines)

    def only_binary(names: Sequence[str]) -> list[str]:
        return [arg for name in names for arg in ("--only-binary", name)]

    def one_by_one() -> list[_Pin]:
        """The pins that fail alone for want of a wheel (after a failure naming none)."""
        found = []
        for pin in pending.values():
            code, out = compile_(
                ["--no-deps", "--python", python, *only_binary([pin.name]), *options],
                f"{head}\n{pin.line}\n",
            )
            if code != 0 and _no_wheels(out) == pin.name:
                found.append(pin)
            elif code == 0:
                resolved.update(_pinned_versions(out))
        return found

    while pending:
        code, out = compile_(
            ["--no-deps", "--python", python, *only_binary(list(pending)), *options],
            head + "\n" + "\n".join(p.line for p in pending.values()) + "\n",
        )
        if code == 0:
            resolved.update(_pinned_versions(out))
            break
        name = _no_wheels(out)
        rotten = [pending[name]] if name in pending else one_by_one()
        if not rotten:
            break  # another failure (a conflict, a missing release): the install reports it
        for pin in rotten:
            del pending[pin.name]
            built_for = _older_python_with_wheels(pin, python, options, head, compile_)
            if built_for is not None:
                substitutions.append(_substitute(pin, built_for, python, options, head, compile_))
        if name not in [p.name for p in rotten]:
            break  # one_by_one checked everything left
    return PinCheck(tuple(substitutions), resolved)


def _older_python_with_wheels(
    pin: _Pin, python: str, options: Sequence[str], head: str, compile_: UvCompile
) -> str | None:
    for version in OLDER_PYTHONS:
        # The build's interpreter with another version for tags and markers: without
        # --python, uv would look for a Python of that version (seconds).
        code, _ = compile_(
            [
                "--no-deps",
                "--python",
                python,
                "--python-version",
                version,
                "--only-binary",
                pin.name,
                *options,
            ],
            f"{head}\n{pin.line}\n",
        )
        if code == 0:
            return version
    return None


def _substitute(
    pin: _Pin, built_for: str, python: str, options: Sequence[str], head: str, compile_: UvCompile
) -> Substitution:
    request = f"{pin.name}{pin.extras}>={pin.version}"
    chosen = None
    # With its dependencies first (the release that installs), else alone (one whose
    # dependencies conflict here still beats a pin that has no build at all).
    for deps in ([], ["--no-deps"]):
        code, out = compile_(
            [
                *deps,
                "--python",
                python,
                "--resolution",
                "lowest-direct",
                "--only-binary",
                pin.name,
                *options,
            ],
            f"{head}\n{request}\n",
        )
        chosen = _pinned_versions(out).get(pin.name) if code == 0 else None
        if chosen is not None:
            break
    line = f"{pin.name}{pin.extras}=={chosen}{pin.marker}" if chosen else pin.line
    return Substitution(pin.line, pin.name, pin.version, chosen, line, built_for)


def _no_wheels(output: str) -> str | None:
    found = _NO_WHEELS.search(" ".join(output.split()))
    return canonicalize_name(found.group("name")) if found else None


def _pinned_versions(output: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = _PINNED.match(line.strip())
        if match:
            found[canonicalize_name(match.group("name"))] = match.group("version")
    return found


def apply(requirements: Sequence[str], substitutions: Sequence[Substitution]) -> tuple[str, ...]:
    """The requirements with each rotten pin replaced by its substitute."""
    replaced = {s.requirement: s.line for s in substitutions}
    return tuple(replaced.get(line, line) for line in requirements)
