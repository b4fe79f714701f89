"""Compute backends: where the agent places runs (``base.ComputeBackend``).

``BACKENDS`` maps a compute target type to its backend; Ray plugs in here later.
"""

from runyard._compute.local import BACKENDS

__all__ = ["BACKENDS"]
