"""`runyard compat ...`: the azureml alias in this Python."""

from __future__ import annotations

import typer

from runyard import compat
from runyard.cli._common import console, errors

app = typer.Typer(help="Make `import azureml.*` resolve to Runyard in this Python.")


SitePackagesOpt = typer.Option(
    None, "--site-packages", help="The site-packages folder (default: this Python's)."
)


@app.command("enable")
@errors
def compat_enable(site_packages: str | None = SitePackagesOpt) -> None:
    """Make `import azureml.*` resolve to Runyard in this Python environment."""
    pth = compat.enable(site_packages)
    console.print(f"azureml compatibility enabled ({pth}).")


@app.command("disable")
@errors
def compat_disable(site_packages: str | None = SitePackagesOpt) -> None:
    """Undo `runyard compat enable`."""
    pth = compat.disable(site_packages)
    console.print(
        f"azureml compatibility disabled (removed {pth})." if pth else "It was not enabled."
    )


@app.command("status")
@errors
def compat_status(site_packages: str | None = SitePackagesOpt) -> None:
    """Say whether `import azureml.*` resolves to Runyard in this Python environment."""
    console.print("enabled" if compat.is_enabled(site_packages) else "disabled")
