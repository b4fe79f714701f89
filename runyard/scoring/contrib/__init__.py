"""``azureml.contrib``: the part of it that scoring scripts use (``azureml.contrib.services``)."""
