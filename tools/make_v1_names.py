"""Write tests/compat/v1_names.txt: the azureml v1 names Runyard's import paths must offer.

Run once, by hand (it downloads wheels; tests only read its output)::

    python tools/make_v1_names.py [--wheels DIR] [--mirror GIT_DIR]

Two sources, merged into one sorted ``module:name`` list:

1. v1's own wheels (the pins in WHEELS), downloaded with ``pip download --no-deps`` and read
   as zip files, never installed. For every public module ``azureml.X`` in them (no path
   part starting with ``_``) for which Runyard's HEAD commit had ``runyard.X``, its
   public names, found statically with ``ast``: the literal ``__all__`` when the module has
   one; otherwise the top-level ``def``s, ``class``es and assigned names, and the names it
   imports from public azureml modules (``from .compute import X``, ``from
   azureml.core.conda_dependencies import CondaDependencies``), not those from private
   ones (``azureml._base_sdk_common``...), the standard library or third parties;
   ``from .x import *`` is followed. Names starting with ``_`` are left out.
2. The v1 sample notebooks, read from a git mirror of Azure/MachineLearningNotebooks with
   ``git show``, and their .py side files: every ``from azureml.X import Y`` and ``import
   azureml.X`` in code cells (``%%writefile`` cells included, as they are the job
   scripts). From the notebooks of issue 10 (NOTEBOOKS) every one is listed, whatever
   Runyard has; from all the others in the mirror (WIDER), those of a public module in a
   package Runyard implements (``azureml.core.authentication`` yes, as runyard.core
   exists; ``azureml.pipeline.core`` no, as runyard.pipeline does not). A bare ``import
   azureml.X`` is listed as the line ``azureml.X`` (the module must import).

tests/compat/test_v1_names.py imports every module and getattr's every name with the
azureml hook installed; tests/compat/v1_names_left_out.txt says which are left out and why.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import functools
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests/compat/v1_names.txt"
MIRROR = Path("/work/.mirror/Azure+MachineLearningNotebooks/repo")

# The newest release of each that installs on Python 3.11 when the list was made. Wheels
# with no azureml module of their own (azureml-train, azureml-dataset-runtime: metadata
# only) add nothing and are not downloaded.
WHEELS = (
    "azureml-core==1.61.0.post4",
    "azureml-train-core==1.62.0",
    "azureml-widgets==1.62.0",
    "azureml-opendatasets==1.62.0",
    "azureml-telemetry==1.62.0",
)

_FRAMEWORKS = "how-to-use-azureml/ml-frameworks"
# commit -> folders whose .ipynb and .py files are scanned; the Chainer notebooks were
# removed from master, so they are read at the parent of the commit that removed them.
NOTEBOOKS = {
    "HEAD": (
        "how-to-use-azureml/training/train-on-local",
        "how-to-use-azureml/track-and-monitor-experiments/logging-api",
        "how-to-use-azureml/track-and-monitor-experiments/manage-runs",
        "how-to-use-azureml/training/train-on-amlcompute",
        "how-to-use-azureml/training/using-environments",
        f"{_FRAMEWORKS}/scikit-learn/train-hyperparameter-tune-deploy-with-sklearn",
        "tutorials/image-classification-mnist-data",
    ),
    "249278ab^": (
        f"{_FRAMEWORKS}/chainer/train-hyperparameter-tune-deploy-with-chainer",
        f"{_FRAMEWORKS}/chainer/distributed-chainer",
    ),
}
WIDER: dict[str, tuple[str, ...]] = {"HEAD": ()}  # () is the whole tree


# ---- the wheels ---------------------------------------------------------------------------
def download_wheels(dest: Path) -> list[Path]:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        + ["-d", str(dest), *WHEELS],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return sorted(dest.glob("*.whl"))


def wheel_modules(wheel: Path) -> dict[str, str]:
    """module name -> source, for every azureml module in the wheel."""
    found = {}
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("azureml/") and member.endswith(".py"):
                parts = member[: -len(".py")].split("/")
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = archive.read(member).decode("utf-8")
    return found


def is_public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split("."))


@functools.cache
def _runyard_files() -> frozenset[str]:
    """Runyard's committed files (HEAD, not the work tree: others' unfinished modules are
    not yet promises)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", "HEAD", "--", "runyard"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return frozenset(listed.splitlines())


def runyard_has(module: str) -> bool:
    path = ("runyard" + module[len("azureml") :]).replace(".", "/")
    return f"{path}.py" in _runyard_files() or f"{path}/__init__.py" in _runyard_files()


def _literal_all(tree: ast.Module) -> list[str] | None:
    names: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                value = ast.literal_eval(node.value)
                names = [*(names or []), *value] if isinstance(node, ast.AugAssign) else [*value]
    return names


def _top_level(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking inside if/try/with (not ``if TYPE_CHECKING``)."""
    for node in body:
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level(block)
            for handler in node.handlers:
                yield from _top_level(handler.body)
        elif isinstance(node, ast.With):
            yield from _top_level(node.body)
        else:
            yield node


def _import_base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def public_names(module: str, sources: dict[str, str], packages: set[str]) -> list[str]:
    tree = ast.parse(sources[module])
    declared = _literal_all(tree)
    if declared is not None:
        return sorted({n for n in declared if not n.startswith("_")})
    names: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            base = _import_base(module, module in packages, node)
            if base.split(".")[0] != "azureml" or not is_public(base):
                continue
            for alias in node.names:
                if alias.name == "*":
                    if base in sources:
                        names.update(public_names(base, sources, packages))
                else:
                    names.add(alias.asname or alias.name)
    return sorted(n for n in names if not n.startswith("_"))


def names_from_wheels(wheels: list[Path]) -> tuple[set[str], list[str]]:
    sources: dict[str, str] = {}
    packages: set[str] = set()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            packages.update(
                m[: -len("/__init__.py")].replace("/", ".")
                for m in archive.namelist()
                if m.startswith("azureml/") and m.endswith("/__init__.py")
            )
        sources.update(wheel_modules(wheel))
    modules = sorted(m for m in sources if m != "azureml" and is_public(m) and runyard_has(m))
    entries = {f"{m}:{n}" for m in modules for n in public_names(m, sources, packages)}
    return entries, modules


# ---- the notebooks ------------------------------------------------------------------------
def _git(mirror: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), *args], check=True, capture_output=True, text=True
    ).stdout


def _code_cells(notebook: str) -> Iterator[str]:
    for cell in json.loads(notebook)["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # %%writefile cells are scripts; other magics and shell lines are not Python
        lines = [
            line for line in source.splitlines() if not line.lstrip().startswith(("%", "!", "?"))
        ]
        yield "\n".join(lines)


_FROM = re.compile(r"^\s*from\s+(azureml(?:\.\w+)*)\s+import\s+(\(?[^#\n]*)", re.M)
_IMPORT = re.compile(r"^\s*import\s+([^#\n]+)", re.M)


def azureml_imports(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:  # a cell with IPython syntax ast cannot read: fall back to lines
        return _imports_by_regex(code)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] == "azureml":
                found.update(f"{node.module}:{a.name}" for a in node.names if a.name != "*")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "azureml")
    return found


def _imports_by_regex(code: str) -> set[str]:
    found = set()
    for module, names in _FROM.findall(code):
        for name in names.strip("() \\").split(","):
            if name.strip():
                found.add(f"{module}:{name.split(' as ')[0].strip()}")
    for names in _IMPORT.findall(code):
        found.update(
            n.split(" as ")[0].strip() for n in names.split(",") if n.strip().startswith("azureml")
        )
    return found


def _scan(mirror: Path, notebooks: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    """'commit:path' -> its azureml imports, for the .ipynb and .py files under the folders."""
    found = {}
    for commit, folders in notebooks.items():
        listed = _git(mirror, "ls-tree", "-r", "--name-only", commit, "--", *folders)
        for path in sorted(listed.split("\n")):
            if not path.endswith((".ipynb", ".py")):
                continue
            try:
                text = _git(mirror, "show", f"{commit}:{path}")
            except subprocess.CalledProcessError:  # a blob the mirror does not hold
                continue
            cells = _code_cells(text) if path.endswith(".ipynb") else [text]
            found[f"{commit}:{path}"] = {e for code in cells for e in azureml_imports(code)}
    return found


def in_runyard_package(entry: str) -> bool:
    module = entry.partition(":")[0]
    parts = module.split(".")
    package = ".".join(parts[:2])
    return is_public(module) and len(parts) >= 2 and runyard_has(package)


def names_from_notebooks(mirror: Path) -> tuple[set[str], list[str], set[str], int]:
    """(entries from NOTEBOOKS, the files read, entries from WIDER, how many WIDER files)."""
    required = _scan(mirror, NOTEBOOKS)
    wider = {k: v for k, v in _scan(mirror, WIDER).items() if k not in required}
    others = {e for found in wider.values() for e in found if in_runyard_package(e)}
    return set().union(*required.values()), sorted(required), others, len(wider)


# ---- output -------------------------------------------------------------------------------
def _runyard_head() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def header(
    wheels: list[Path], modules: list[str], scanned: list[str], mirror: Path, counts: str
) -> str:
    head = _git(mirror, "rev-parse", "HEAD").strip()
    lines = [
        "v1 names Runyard's azureml import paths must offer: one module:name per line, or a",
        "bare module that must import. Checked by tests/compat/test_v1_names.py; what is left",
        "out on purpose, and why, is in tests/compat/v1_names_left_out.txt.",
        "",
        f"Made {datetime.date.today().isoformat()} by `python tools/make_v1_names.py` "
        "(its docstring gives the rules), from:",
        "- the public names of these wheels (pip download --no-deps, read with ast, never "
        "installed):",
        *(f"    {w.name}" for w in wheels),
        f"  in their modules for which runyard.X was in Runyard's commit {_runyard_head()}:",
        *(f"    {m}" for m in modules),
        "- the azureml imports of these v1 sample notebooks and side files, from",
        f"  Azure/MachineLearningNotebooks at {head[:12]} (master) and 249278ab^ (Chainer):",
        *(f"    {s}" for s in scanned),
        "- the imports of every other notebook and .py file of that master that are in a",
        "  package Runyard implements (azureml.core.*, azureml.data.*, azureml.train.*...).",
        counts,
    ]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the WHEELS already")
    parser.add_argument("--mirror", type=Path, default=MIRROR, help="MachineLearningNotebooks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = sorted(args.wheels.glob("*.whl")) if args.wheels else download_wheels(Path(tmp))
        wanted = {spec.split("==")[0].replace("-", "_") for spec in WHEELS}
        wheels = [w for w in wheels if w.name.split("-")[0] in wanted]
        from_wheels, modules = names_from_wheels(wheels)
    from_notebooks, scanned, from_others, n_others = names_from_notebooks(args.mirror)
    entries = sorted(from_wheels | from_notebooks | from_others)
    counts = (
        f"{len(entries)} entries: {len(from_wheels)} from the wheels, {len(from_notebooks)} "
        f"from issue 10's notebooks, {len(from_others)} from the {n_others} other files; "
        f"{len(from_notebooks - from_wheels)} of the notebooks' are not in the wheels' list, "
        f"{len(from_others - from_wheels - from_notebooks)} of the others' are in neither."
    )
    OUT.write_text(
        header(wheels, modules, scanned, args.mirror, counts) + "\n".join(entries) + "\n"
    )
    print(f"wrote {OUT.relative_to(REPO)}: {counts}")


if __name__ == "__main__":
    main()
