"""Notebook widgets (v1's ``azureml.widgets``): ``RunDetails(run).show()``.

Importing this package imports neither ipywidgets nor IPython; ``show()`` does, in a
Jupyter kernel. Install the widget's dependency with ``pip install 'runyard[notebook]'``.
"""

from runyard.widgets.run_details import RunDetails

__all__ = ["RunDetails"]
