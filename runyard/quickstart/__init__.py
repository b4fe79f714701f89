"""The quickstart demo: submit a script to the embedded workspace and follow it to a model.

It is what the README's Quickstart command runs: a workspace from config.json (written on
first use), an experiment, a ScriptRunConfig on the local target, streamed output, the
run's metrics, a registered model and its download.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from runyard.core import Experiment, Model, ScriptRunConfig, Workspace

SAMPLE_DIR = Path(__file__).with_name("sample")
WORKSPACE_NAME = "quickstart"


def run_quickstart(project_dir: Path | None = None, *, epochs: int = 20) -> dict:
    """Runs the demo and returns what it produced (run id, metrics, model id, files)."""
    project = Path(project_dir) if project_dir else Path(tempfile.mkdtemp(prefix="runyard-qs-"))
    project.mkdir(parents=True, exist_ok=True)
    config = project / ".azureml" / "config.json"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
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
    print(f"== Workspace.from_config({str(project)!r})")
    ws = Workspace.from_config(path=str(project))
    print(f"   workspace {ws.name!r}")

    print("== Experiment(ws, 'quickstart')")
    experiment = Experiment(ws, "quickstart")

    print(f"== ScriptRunConfig(source_directory={str(SAMPLE_DIR)!r}, script='train.py')")
    src = ScriptRunConfig(
        source_directory=str(SAMPLE_DIR),
        script="train.py",
        arguments=["--epochs", epochs, "--learning-rate", 0.5],
        compute_target="local",
    )
    run = experiment.submit(src, tags={"demo": "quickstart"})
    print(f"== experiment.submit(src) -> run {run.id} (number {run.number})")
    run.wait_for_completion(show_output=True)

    metrics = run.get_metrics()
    print("== run.get_metrics()")
    for name, value in metrics.items():
        shown = value if not isinstance(value, list) else f"{len(value)} values, last {value[-1]}"
        print(f"   {name}: {shown}")

    files = run.get_file_names()
    print(f"== run.get_file_names() -> {files}")
    model = run.register_model(model_name="quickstart-logreg", model_path="outputs/model.json")
    print(f"== run.register_model(...) -> {model.id}")
    target = project / "downloaded-model"
    path = Model(ws, "quickstart-logreg", version=model.version).download(
        target_dir=str(target), exist_ok=True
    )
    print(f"== model.download() -> {path}")
    return {
        "run_id": run.id,
        "status": run.get_status(),
        "metrics": metrics,
        "files": files,
        "model_id": model.id,
        "model_path": path,
    }


def main() -> None:
    run_quickstart()


if __name__ == "__main__":
    main()
