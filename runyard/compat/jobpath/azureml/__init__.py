# Put runyard/compat/jobpath on a job's PYTHONPATH and `import azureml.core` works unchanged:
# this package installs Runyard's alias hook, then stands aside for the runyard package.
import sys

from runyard.compat.hook import install as _install

_install()
import runyard as _runyard  # noqa: E402 - after the hook, as the aliases need it

sys.modules[__name__] = _runyard
