"""Lazy re-exports: v1 names a module offers at its azureml path but that another Runyard
module defines, loaded on first access so that importing the module stays light and makes
no import cycle (tests/compat/v1_names.txt lists the names v1 code imports)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    module: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module-level ``__getattr__`` and ``__dir__`` (PEP 562) for ``module``.

    ``exports`` maps each name to the module defining it. Used as
    ``__getattr__, __dir__ = lazy_exports(__name__, {"Model": "runyard.core.model"})``.
    """

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | set(exports))

    return __getattr__, __dir__
