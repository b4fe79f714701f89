"""The seed tutorial, *Train and register Chainer models at scale*, on the embedded workspace.

The article's steps (``chainer_article``) are written the way v1 writes them, with azureml's
names only (resolved to Runyard by ``runyard.compat``): a workspace from config.json, an
experiment, the MNIST sample as a registered file dataset, a 'gpu-cluster' of STANDARD_NC6
nodes (max_nodes=4), a ``Chainer`` estimator with the article's script_params, submit,
streamed output, metrics, the registered model and its downloaded file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from runyard.compat import hook

WORKSPACE_NAME = "quickstart"


def _write_config(project: Path) -> None:
    config = project / "config.json"
    if not config.exists():
        config.write_text(
            json.dumps(
                {
                    "subscription_id": "00000000-0000-0000-0000-000000000000",
                    "resource_group": "runyard-quickstart",
                    "workspace_name": WORKSPACE_NAME,
                },
                indent=2,
            )
        )


def run_tutorial(project_dir: Path | None = None, *, epochs: int = 10) -> dict[str, Any]:
    """Runs the tutorial end to end, printing each step; returns what it produced."""
    project = Path(project_dir or tempfile.mkdtemp(prefix="runyard-chainer-"))
    project.mkdir(parents=True, exist_ok=True)
    _write_config(project)
    hook.install()  # what `runyard compat enable` does for a notebook's Python
    # late: the article imports azureml.* names, which resolve only once the hook is in; an
    # import hook is not something importing this module may install.
    from runyard.quickstart import chainer_article

    return chainer_article.run(project, epochs=epochs)
