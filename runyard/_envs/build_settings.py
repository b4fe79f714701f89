"""How environments are built here: where, with which uv, and with the machine's pip
configuration translated for uv (``pip_config``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from uv import find_uv_bin

from runyard._envs.pip_config import PipConfig, pip_identity, read_pip_config
from runyard._envs.spec import STRICT_PINS_VARIABLE, parse_strict_pins

_EMPTY_PIP = PipConfig()


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """Where and how to build. ``host_python`` is the fallback interpreter."""

    envs_root: Path
    uv: str
    host_python: str
    uv_cache_dir: Path | None = None
    timeout_seconds: float = 3600.0
    # Polled while uv runs and while waiting for another build's lock: True stops the build
    # (the run was canceled, or its agent is stopping) and nothing is kept.
    should_stop: Callable[[], bool] | None = None
    pip: PipConfig = _EMPTY_PIP
    pip_identity: str = field(default_factory=lambda: pip_identity(_EMPTY_PIP))
    # Variables added to uv's environment (pip's cert and timeout).
    uv_env: Mapping[str, str] = field(default_factory=dict)
    # An exact pin with no build for the interpreter fails the build instead of being
    # replaced (RUNYARD_STRICT_PINS=1; an environment's own variable of that name wins).
    strict_pins: bool = False


def default_build_settings(
    home: Path,
    *,
    host_python: str,
    uv_cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> BuildSettings:
    """Envs under ``<RUNYARD_HOME>/envs``, built with the uv binary of the uv PyPI package,
    honouring this process's pip configuration and RUNYARD_STRICT_PINS.

    ``environ`` defaults to this process's environment: uv runs as its child and inherits
    it, so pip's view of the machine is read from the same place.

    Raises:
        PipConfigError: the pip configuration cannot be used (the message names the file).
        UserErrorException: RUNYARD_STRICT_PINS is not a boolean.
    """
    env = os.environ if environ is None else environ
    pip = read_pip_config(env, site_prefix=sys.prefix)
    return BuildSettings(
        envs_root=home / "envs",
        uv=find_uv_bin(),
        host_python=host_python,
        uv_cache_dir=uv_cache_dir,
        pip=pip,
        pip_identity=pip_identity(pip),
        uv_env=pip.uv_env(env),
        strict_pins=bool(parse_strict_pins(env.get(STRICT_PINS_VARIABLE), where="this process")),
    )
