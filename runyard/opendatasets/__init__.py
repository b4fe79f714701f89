"""Open datasets shipped with Runyard, at ``azureml.opendatasets`` names.

Nothing here downloads: the data are files inside the package.
"""

from runyard.opendatasets.mnist import MNIST

__all__ = ["MNIST"]
