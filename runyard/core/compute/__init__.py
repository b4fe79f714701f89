"""Compute targets at azureml.core.compute's names."""

from runyard.core.compute.amlcompute import (
    AmlCompute,
    AmlComputeProvisioningConfiguration,
    AmlComputeStatus,
)
from runyard.core.compute.compute_target import ComputeTarget

__all__ = ["AmlCompute", "AmlComputeProvisioningConfiguration", "AmlComputeStatus", "ComputeTarget"]
