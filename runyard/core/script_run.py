"""v1's ``azureml.core.script_run``: ScriptRun, the run of a submitted ScriptRunConfig.

Runyard's submitted runs are plain Run objects with the same API; ScriptRun is kept so that
v1 code importing it (``from azureml.core import ScriptRun``, isinstance checks against
``Run``) runs unchanged.
"""

from __future__ import annotations

from runyard.core.run import Run

__all__ = ["ScriptRun"]


class ScriptRun(Run):
    """A submitted script run (v1's class; Runyard gives Run objects of the same API)."""

    RUN_TYPE = "azureml.scriptrun"
