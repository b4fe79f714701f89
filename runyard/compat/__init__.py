"""azureml v1 compatibility: ``import azureml.core`` resolves to Runyard's modules.

- Driver side: :func:`enable` writes a .pth file into site-packages that installs the alias
  hook at interpreter start; :func:`disable` removes it (``runyard compat enable|disable``).
- Job side: :func:`job_pythonpath` is a folder holding an ``azureml`` package that installs
  the hook; put it on a job's PYTHONPATH.
- In one process: :func:`install` / :func:`uninstall`.
"""

from __future__ import annotations

import importlib.metadata
import sysconfig
from pathlib import Path

from runyard import _jobenv
from runyard.compat.hook import install, installed, uninstall
from runyard.exceptions import AzureMLCompatConflict, UserErrorException

__all__ = ["PTH_NAME", "disable", "enable", "install", "installed", "is_enabled",
           "job_pythonpath", "uninstall"]  # fmt: skip

PTH_NAME = "runyard_azureml_compat.pth"
# One line, as .pth files require. find_spec first: if runyard is later uninstalled, the
# interpreter must still start quietly.
PTH_LINE = (
    "import importlib.util as _u; _u.find_spec('runyard') is not None and "
    "__import__('runyard.compat.hook').compat.hook.install()\n"
)
_CONFLICTING = ("azureml-core",)


def job_pythonpath() -> str:
    """The folder to prepend to a job's PYTHONPATH so that its ``import azureml`` is Runyard.

    Returns:
        An absolute path; ``runyard`` itself must also be importable in the job.
    """
    return _jobenv.alias_pythonpath()


def _site_packages(site_packages: str | Path | None) -> Path:
    return (
        Path(site_packages) if site_packages is not None else Path(sysconfig.get_paths()["purelib"])
    )


def _real_azureml(site: Path) -> importlib.metadata.Distribution | None:
    for dist in importlib.metadata.distributions(path=[str(site)]):
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name in _CONFLICTING:
            return dist
    return None


def enable(site_packages: str | Path | None = None) -> Path:
    """Make ``azureml.*`` imports resolve to Runyard in every process of this environment.

    Args:
        site_packages: where to write the .pth file; default: this interpreter's purelib.

    Returns:
        The path of the .pth file written.

    Raises:
        AzureMLCompatConflict: a real azureml-core is installed there; nothing is written.
    """
    site = _site_packages(site_packages)
    dist = _real_azureml(site)
    if dist is not None:
        raise AzureMLCompatConflict(dist.metadata["Name"], dist.version, str(site))
    pth = site / PTH_NAME
    try:
        pth.write_text(PTH_LINE, encoding="utf-8")
    except OSError as exc:
        raise UserErrorException(
            f"Cannot write {str(pth)!r} ({exc.strerror}): --site-packages must be an existing, "
            "writable site-packages folder of the environment to enable. Omit it to use this "
            "Python's, or run `runyard compat enable` with that environment's own runyard."
        ) from None
    return pth


def disable(site_packages: str | Path | None = None) -> Path | None:
    """Undo :func:`enable`; new processes import the real azureml (if any) again.

    Args:
        site_packages: where enable wrote the .pth file; default: this interpreter's purelib.

    Returns:
        The path removed, or None when compatibility was not enabled there.
    """
    pth = _site_packages(site_packages) / PTH_NAME
    if not pth.exists():
        return None
    pth.unlink()
    return pth


def is_enabled(site_packages: str | Path | None = None) -> bool:
    """True when :func:`enable` has written its .pth file there."""
    return (_site_packages(site_packages) / PTH_NAME).exists()
