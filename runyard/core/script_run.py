"""v1's ``azureml.core.script_run``: ScriptRun, the run of a submitted ScriptRunConfig.

Runyard's submitted runs are plain Run objects with the same API; ScriptRun is kept so that
v1 code importing it (``from azureml.core import ScriptRun``, isinstance checks against
``Run``) runs unchanged.
"""

from __future__ import annotations

import logging

from runyard.core.run import Run
from runyard.core.runconfig import RunConfiguration
from runyard.exceptions import AzureMLException, UserErrorException

module_logger = logging.getLogger(__name__)

__all__ = ["AzureMLException", "RunConfiguration", "ScriptRun", "UserErrorException"]


class ScriptRun(Run):
    """A submitted script run (v1's class; Runyard gives Run objects of the same API)."""

    RUN_TYPE = "azureml.scriptrun"
