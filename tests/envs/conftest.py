"""Fixtures for environment tests: real uv builds with a uv cache kept between runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runyard._envs import BuildSettings, default_build_settings


@pytest.fixture
def build_settings(tmp_path: Path, uv_cache_dir: Path) -> BuildSettings:
    return default_build_settings(
        tmp_path / "home", host_python=sys.executable, uv_cache_dir=uv_cache_dir
    )


@pytest.fixture
def persistent_build_settings(persistent_envs_dir: Path, uv_cache_dir: Path) -> BuildSettings:
    """Envs kept between runs: the Chainer env is built once per machine."""
    return default_build_settings(
        persistent_envs_dir / "home", host_python=sys.executable, uv_cache_dir=uv_cache_dir
    )


class LogLines(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)

    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture
def new_log() -> Callable[[], LogLines]:
    """new_log(): a fresh build log, a callable collecting lines (with .text())."""
    return LogLines


@pytest.fixture
def log(new_log) -> LogLines:
    return new_log()
