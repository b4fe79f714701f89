"""Exceptions thrown by HyperDrive (v1's ``azureml.train.hyperdrive.exceptions``).

They live in :mod:`runyard.exceptions` with the rest of the error tree; this module keeps
v1's import path.
"""

from runyard.exceptions import (
    HyperDriveConfigException,
    HyperDriveException,
    HyperDriveNotImplementedException,
    HyperDriveRehydrateException,
    HyperDriveScenarioNotSupportedException,
    HyperDriveServiceException,
)

__all__ = [
    "HyperDriveConfigException",
    "HyperDriveException",
    "HyperDriveNotImplementedException",
    "HyperDriveRehydrateException",
    "HyperDriveScenarioNotSupportedException",
    "HyperDriveServiceException",
]
