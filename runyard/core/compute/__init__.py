"""Compute targets at azureml.core.compute's names, and Runyard's ``RayCompute``."""

from runyard.core.compute.amlcompute import (
    AmlCompute,
    AmlComputeProvisioningConfiguration,
    AmlComputeStatus,
)
from runyard.core.compute.compute_target import ComputeTarget
from runyard.core.compute.ray_compute import (
    RayCompute,
    RayComputeAttachConfiguration,
    RayComputeStatus,
)

__all__ = ["AmlCompute", "AmlComputeProvisioningConfiguration", "AmlComputeStatus",
           "ComputeTarget", "RayCompute", "RayComputeAttachConfiguration",
           "RayComputeStatus"]  # fmt: skip
