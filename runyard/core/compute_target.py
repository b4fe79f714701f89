"""v1's ``azureml.core.compute_target`` path: ``ComputeTargetException`` and ``ComputeTarget``."""

from runyard.core.compute.compute_target import ComputeTarget
from runyard.exceptions import ComputeTargetException
from runyard.exceptions import UserErrorException as UserErrorException  # v1 import path

__all__ = ["ComputeTarget", "ComputeTargetException"]
