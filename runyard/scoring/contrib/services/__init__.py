"""``azureml.contrib.services``: raw HTTP access for scoring scripts (``@rawhttp``,
``AMLRequest``, ``AMLResponse``)."""

from runyard.scoring.contrib.services.aml_request import rawhttp as rawhttp
