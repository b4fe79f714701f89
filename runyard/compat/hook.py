"""The import hook that makes ``azureml.<x>`` the very module ``runyard.<x>``.

Kept free of imports beyond the standard library: a .pth file installs it at every
interpreter start (``runyard compat enable``), and job processes install it too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

README_HINT = "the README section 'Supported azureml v1 names' lists what Runyard implements"
# azureml paths whose Runyard module has another name; all others map azureml.X -> runyard.X.
RENAMES: dict[str, str] = {
    "azureml.contrib": "runyard.scoring.contrib",
    "azureml.contrib.services": "runyard.scoring.contrib.services",
}


def runyard_name(fullname: str) -> str:
    if fullname in RENAMES:
        return RENAMES[fullname]
    parent, _, last = fullname.rpartition(".")
    if parent and parent in RENAMES:
        return f"{RENAMES[parent]}.{last}"
    return "runyard" + fullname[len("azureml") :]


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already-imported runyard module instead of creating one."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._original_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just set module.__spec__ to the alias spec; give the runyard
        # module its own spec back so reload(), pickling and -m keep working on it.
        module.__spec__ = self._original_spec


class AzureMLAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``azureml`` and ``azureml.*`` to ``runyard`` and ``runyard.*``."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib's API
        if fullname != "azureml" and not fullname.startswith("azureml."):
            return None
        name = runyard_name(fullname)
        try:
            found = name in sys.modules or importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: Runyard does not implement azureml's "
                f"{fullname!r} (it would be {name!r}); {README_HINT}.",
                name=fullname,
            )
        real = sys.modules.get(name) or importlib.import_module(name)
        is_package = hasattr(real, "__path__")
        return importlib.util.spec_from_loader(fullname, _AliasLoader(name), is_package=is_package)


def installed() -> bool:
    """True when this process resolves azureml imports to Runyard."""
    return any(isinstance(finder, AzureMLAliasFinder) for finder in sys.meta_path)


def install() -> None:
    """Make ``import azureml...`` resolve to Runyard in this process (idempotent)."""
    if not installed():
        # first, so that it wins over a namespace folder named azureml on sys.path
        sys.meta_path.insert(0, AzureMLAliasFinder())


def uninstall() -> None:
    """Undo :func:`install` and forget the azureml aliases already imported."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, AzureMLAliasFinder)]
    for name in [n for n in sys.modules if n == "azureml" or n.startswith("azureml.")]:
        del sys.modules[name]
