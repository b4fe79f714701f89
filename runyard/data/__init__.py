"""Datasets and data references, at ``azureml.data`` names."""

from runyard.data.abstract_dataset import AbstractDataset
from runyard.data.data_reference import DataReference
from runyard.data.datapath import DataPath
from runyard.data.dataset_consumption_config import DatasetConsumptionConfig
from runyard.data.file_dataset import FileDataset
from runyard.data.output_dataset_config import OutputFileDatasetConfig
from runyard.data.tabular_dataset import TabularDataset

__all__ = [
    "AbstractDataset",
    "DataPath",
    "DataReference",
    "DatasetConsumptionConfig",
    "FileDataset",
    "OutputFileDatasetConfig",
    "TabularDataset",
]
