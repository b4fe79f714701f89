"""Run the vendored v1 sample notebooks cell by cell, the way a user presses "Run all".

Usage::

    .venv/bin/python tools/run_notebooks.py [NAMES...] [--timeout-per-cell S]
        [--timeout-per-notebook S] [--json FILE] [--keep]

NAMES are folders of tests/compat/notebooks (a unique prefix is enough); none means all.
Each notebook runs in a scratch copy: a fresh RUNYARD_HOME, a working folder holding a copy
of the notebook's folder and a v1 ``config.json``, and a real IPython kernel (nbclient) so
that ``%%writefile``, ``!cmd`` and ``%matplotlib`` behave as they do for users.

The kernel's Python is this one, seen through a throw-away overlay venv on which
``runyard compat enable`` is run for real: its .pth hook makes ``import azureml.x`` resolve to
``runyard.x`` in the kernel and in every process it starts, while this environment (shared
with whatever else runs from it) stays untouched.

Cells listed in tests/compat/notebooks/skipped_cells.yml (internet, Docker, GPU, web
services) are not executed and are counted apart. Every other cell runs, also after an
earlier one failed, and is reported PASS or FAIL with the first line of its error. Exit
status: 0 when no unlisted cell failed, 1 otherwise, 2 for a bad invocation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from nbclient.util import run_sync

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "tests" / "compat" / "notebooks"
SKIP_TABLE = NOTEBOOKS / "skipped_cells.yml"
SKIP_REASONS = ("internet", "docker", "gpu")
WORKSPACE_NAME = "notebooks"
# As runyard/quickstart/chainer_tutorial.py writes it: Workspace.from_config() creates the
# embedded workspace $RUNYARD_HOME/workspaces/<workspace_name> on first use.
CONFIG = {
    "subscription_id": "00000000-0000-0000-0000-000000000000",
    "resource_group": "runyard-notebooks",
    "workspace_name": WORKSPACE_NAME,
}
# What a v1 notebook kernel (an Azure ML compute instance's "Python 3.8 - AzureML") has and
# these samples use from the notebook's own Python: train-on-local's user-managed run
# executes scripts/train.py (sklearn) with it. Installed into the kernel venv only.
KERNEL_PACKAGES = ("scikit-learn",)
CLI = "import sys; sys.argv[0] = 'runyard'; from runyard.cli import app; app()"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT-RUN"


@dataclasses.dataclass(frozen=True, slots=True)
class Skip:
    cell: int
    match: str
    reason: str
    why: str


@dataclasses.dataclass(frozen=True, slots=True)
class CellResult:
    index: int
    status: str  # PASS, FAIL, NOT-RUN or SKIPPED-<reason>
    seconds: float
    first_line: str  # the cell's first source line, to recognise it
    failed_line: str = ""  # for FAIL: the cell's source line the error came from
    error: str = ""  # for FAIL / NOT-RUN: "<ExceptionType>: <first line of message>"
    detail: str = ""  # for FAIL: the whole message (clipped), in --json's file
    why: str = ""  # for SKIPPED: the table's reason


@dataclasses.dataclass(frozen=True, slots=True)
class NotebookResult:
    name: str
    cells: tuple[CellResult, ...]
    seconds: float

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status in (FAIL, NOT_RUN)]

    def totals(self) -> Counter[str]:
        return Counter(c.status for c in self.cells)


class RunnerError(Exception):
    """A bad invocation or skip table; the message says what to change."""


# ---- the notebooks and the skip table -------------------------------------------------
def notebook_names() -> list[str]:
    return sorted(p.parent.name for p in NOTEBOOKS.glob("*/*.ipynb"))


def resolve_names(requested: Sequence[str]) -> list[str]:
    known = notebook_names()
    if not requested:
        return known
    chosen = []
    for want in requested:
        hits = [n for n in known if n == want] or [n for n in known if n.startswith(want)]
        if len(hits) != 1:
            what = "matches several" if hits else "matches none"
            raise RunnerError(f"{want!r} {what} of the notebooks: {', '.join(known)}")
        chosen.append(hits[0])
    return chosen


def notebook_path(name: str) -> Path:
    return NOTEBOOKS / name / f"{name}.ipynb"


def load_skips(path: Path = SKIP_TABLE) -> dict[str, dict[int, Skip]]:
    """The skip table, each entry checked against its notebook."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table: dict[str, dict[int, Skip]] = {}
    for name, entries in raw.items():
        if not notebook_path(name).exists():
            raise RunnerError(f"{path}: no notebook {name!r}; known: {notebook_names()}")
        cells = nbformat.read(notebook_path(name), as_version=4).cells
        table[name] = {}
        for entry in entries:
            skip = Skip(**entry)
            where = f"{path}: {name} cell {skip.cell}"
            if skip.reason not in SKIP_REASONS:
                raise RunnerError(f"{where}: reason {skip.reason!r} is not one of {SKIP_REASONS}")
            if not (0 <= skip.cell < len(cells)) or skip.match not in cells[skip.cell].source:
                raise RunnerError(f"{where}: that cell does not contain {skip.match!r}")
            table[name][skip.cell] = skip
    return table


# ---- the kernel's Python ----------------------------------------------------------------
def make_kernel_python(scratch: Path) -> Path:
    """A venv over this interpreter's packages with ``runyard compat enable`` run in it."""
    venv = scratch / "kernel-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # "00-" sorts before the compat hook's .pth, which needs runyard importable already.
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(ours))
    (Path(site) / "00-runyard-notebooks-base.pth").write_text(lines, encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    for what, argv in (
        ("`runyard compat enable`", [python, "-c", CLI, "compat", "enable"]),
        (f"pip install {' '.join(KERNEL_PACKAGES)}", [*pip, *KERNEL_PACKAGES]),
    ):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise RunnerError(f"{what} failed for the kernel's venv {venv}: {tail}")
    return python


def write_kernelspec(scratch: Path, python: Path) -> Path:
    """A kernelspec folder whose ``python3`` kernel is ``python`` running ipykernel."""
    kernels = scratch / "kernels"
    spec = kernels / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (runyard compat)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel, indent=1), encoding="utf-8")
    return kernels


def kernel_environment(python: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "AZUREML_"))}
    env.pop("PYTHONPATH", None)
    venv = python.parent.parent
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # as if activated
    env["VIRTUAL_ENV"] = str(venv)
    env["RUNYARD_HOME"] = str(home)
    env["RUNYARD_AGENT_IDLE_SECONDS"] = "120"  # an agent left behind does not linger
    # `!more file` (manage-runs): util-linux 2.38's more waits at "(END)" on the kernel's pty
    # instead of exiting at the end of the file as older and newer releases do.
    env.setdefault("MORE", "-e")
    return env


# ---- one notebook -------------------------------------------------------------------------
def prepare_folder(name: str, scratch: Path) -> Path:
    work = scratch / name / "work"
    shutil.copytree(NOTEBOOKS / name, work / name)
    folder = work / name
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2), encoding="utf-8")
    return folder


def failed_line(cell_source: str, traceback: Iterable[str], execution_count: int | None) -> str:
    """The line of the cell the error came from, read off IPython's traceback."""
    text = ANSI.sub("", "\n".join(traceback))
    lines = cell_source.splitlines()
    found = re.search(rf"Cell In\[{execution_count}\], line (\d+)", text)
    if found is None:  # %%time runs the body (the cell minus its first line) as <timed exec>
        timed = re.search(r"<timed exec>:(\d+)", text)
        number = int(timed.group(1)) + 1 if timed else 0
    else:
        number = int(found.group(1))
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _error_of(exc: CellExecutionError) -> tuple[str, str]:
    message = ANSI.sub("", str(exc.evalue))
    return f"{exc.ename}: {_first_line(message)}".rstrip(": "), message[:4000]


def run_cells(
    client: NotebookClient,
    nb: nbformat.NotebookNode,
    skips: dict[int, Skip],
    *,
    timeout_per_cell: float,
    deadline: float,
    echo: bool,
) -> list[CellResult]:
    results: list[CellResult] = []
    stop = ""  # once set (notebook timeout, dead kernel) the rest are NOT-RUN
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        head = _first_line(cell.source)[:70]
        started = time.monotonic()
        if index in skips:
            skip = skips[index]
            result = CellResult(index, f"SKIPPED-{skip.reason}", 0.0, head, why=skip.why)
        elif stop or deadline - started <= 0:
            stop = stop or "the notebook's time (--timeout-per-notebook) ran out"
            result = CellResult(index, NOT_RUN, 0.0, head, error=stop)
        else:
            client.timeout = max(1, math.ceil(min(timeout_per_cell, deadline - started)))
            client.error_on_timeout = {
                "ename": "CellTimeout",
                "evalue": f"no reply within {client.timeout} s (--timeout-per-cell, "
                "--timeout-per-notebook); the kernel was interrupted",
            }
            try:
                client.execute_cell(cell, index)
                result = CellResult(index, PASS, time.monotonic() - started, head)
            except CellExecutionError as exc:
                line = failed_line(cell.source, exc.traceback.splitlines(), cell.execution_count)
                took = time.monotonic() - started
                result = CellResult(index, FAIL, took, head, line, *_error_of(exc))
            except DeadKernelError as exc:
                stop = f"DeadKernelError: {exc} (in cell {index})"
                result = CellResult(index, FAIL, time.monotonic() - started, head, error=stop)
        results.append(result)
        if echo:
            print(format_cell(result), flush=True)
    return results


def stop_agent(python: Path, env: dict[str, str]) -> None:
    """The workspace's agent outlives the kernel; stop it as `runyard agent stop` does."""
    subprocess.run(
        [python, "-c", CLI, "agent", "stop", "-w", WORKSPACE_NAME],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def run_notebook(
    name: str,
    *,
    scratch: Path,
    python: Path,
    kernels: Path,
    skips: dict[int, Skip],
    timeout_per_cell: float = 1800,
    timeout_per_notebook: float = 3600,
    echo: bool = True,
) -> NotebookResult:
    """Runs one notebook in a fresh workspace under ``scratch``; see the module docstring."""
    folder = prepare_folder(name, scratch)
    env = kernel_environment(python, scratch / name / "runyard-home")
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    # IPC sockets, named outside the notebook's folder (which cells may snapshot)
    sockets = str(scratch / name / "kernel-ipc")
    km = AsyncKernelManager(
        kernel_name="python3", kernel_spec_manager=specs, transport="ipc", ip=sockets
    )
    client = NotebookClient(
        nb,
        km=km,
        resources={"metadata": {"path": str(folder)}},
        interrupt_on_timeout=True,
    )
    started = time.monotonic()
    if echo:
        print(f"== {name}  (scratch: {folder})", flush=True)
    try:
        with client.setup_kernel(env=env, cwd=str(folder), cleanup_kc=True):
            cells = run_cells(
                client,
                nb,
                skips,
                timeout_per_cell=timeout_per_cell,
                deadline=started + timeout_per_notebook,
                echo=echo,
            )
    finally:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
        stop_agent(python, env)
        nbformat.write(nb, folder / f"{name}.executed.ipynb")
    result = NotebookResult(name, tuple(cells), time.monotonic() - started)
    if echo:
        print(format_totals(name, result.totals(), result.seconds), flush=True)
    return result


# ---- reporting --------------------------------------------------------------------------
def format_cell(result: CellResult) -> str:
    line = f"  [{result.index:3d}] {result.status:<18} {result.seconds:7.1f}s  {result.first_line}"
    if result.failed_line:
        line += f"\n{'':8}at: {result.failed_line}"
    if result.error:
        line += f"\n{'':8}{result.error}"
    if result.why:
        line += f"\n{'':8}skipped: {' '.join(result.why.split())}"
    return line


def format_totals(label: str, totals: Counter[str], seconds: float | None = None) -> str:
    order = [PASS, FAIL, NOT_RUN, *(f"SKIPPED-{r}" for r in SKIP_REASONS)]
    parts = [f"{key} {totals[key]}" for key in order if totals[key]]
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    return f"-- {label}: {', '.join(parts) or 'no code cells'}{took}"


def run_all(
    names: Sequence[str],
    *,
    timeout_per_cell: float,
    timeout_per_notebook: float,
    scratch: Path,
    echo: bool = True,
) -> list[NotebookResult]:
    """Runs the named notebooks one after another, each in a fresh workspace."""
    skips = load_skips()
    python = make_kernel_python(scratch)
    kernels = write_kernelspec(scratch, python)
    return [
        run_notebook(
            name,
            scratch=scratch,
            python=python,
            kernels=kernels,
            skips=skips.get(name, {}),
            timeout_per_cell=timeout_per_cell,
            timeout_per_notebook=timeout_per_notebook,
            echo=echo,
        )
        for name in names
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAMES", help="notebook folders (default all)")
    parser.add_argument("--timeout-per-cell", type=float, default=1800, metavar="S")
    parser.add_argument("--timeout-per-notebook", type=float, default=3600, metavar="S")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results there")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    try:
        names = resolve_names(args.names)
        load_skips()
    except RunnerError as exc:
        print(f"run_notebooks: {exc}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="runyard-notebooks-"))
    try:
        results = run_all(
            names,
            timeout_per_cell=args.timeout_per_cell,
            timeout_per_notebook=args.timeout_per_notebook,
            scratch=scratch,
        )
    except RunnerError as exc:
        print(f"run_notebooks: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    for result in results:
        print(format_totals(result.name, result.totals(), result.seconds))
    total: Counter[str] = sum((r.totals() for r in results), Counter())
    print(format_totals("all", total))
    if args.json:
        data = [dataclasses.asdict(r) | {"totals": dict(r.totals())} for r in results]
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
