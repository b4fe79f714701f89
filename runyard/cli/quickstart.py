"""`runyard quickstart`: the Chainer tutorial (or a small demo) end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from runyard.cli._common import console, errors
from runyard.quickstart import run_quickstart
from runyard.quickstart.chainer_tutorial import run_tutorial

ProjectDirOpt = typer.Option(
    None, "--project-dir", help="Folder for config.json and the tutorial's files (default: temp)."
)
EpochsOpt = typer.Option(10, "--epochs", min=1, help="Training epochs.")
SimpleOpt = typer.Option(
    False, "--simple", help="Run the small pure-Python demo instead of the Chainer tutorial."
)


app = typer.Typer()


@app.command("quickstart")
@errors
def quickstart(
    project_dir: str | None = ProjectDirOpt,
    epochs: int = EpochsOpt,
    simple: bool = SimpleOpt,
) -> None:
    """Run the 'Train and register Chainer models at scale' tutorial on the embedded workspace."""
    folder = Path(project_dir) if project_dir else None
    if simple:
        run_quickstart(folder, epochs=epochs)
        return

    result = run_tutorial(folder, epochs=epochs)
    accuracy = result["metrics"].get("Accuracy")
    final = accuracy[-1] if isinstance(accuracy, list) else accuracy
    console.print(
        f"[green]Done:[/green] run {result['run_id']} {result['status']}, test accuracy "
        f"{final:.3f}, model {result['model_id']} downloaded to {result['model_file']}"
    )
