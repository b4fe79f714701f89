"""The import contract (docs/internals.md, Layers): cli -> compat -> SDK -> _services ->
_compute/_envs -> _store -> leaves, imports at module level, and no import cycles.

import-linter checks the layers ([tool.importlinter] in pyproject.toml); the AST tests below
check what it cannot: which imports sit inside functions, and cycles among module-level
imports only (grimp counts the imports inside functions too).
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import runyard

PACKAGE = Path(runyard.__file__).resolve().parent
REPO = PACKAGE.parent

# Heavy optional third-party packages: imported inside the function that needs them.
HEAVY = {"chainer", "cupy", "ray", "optuna", "torch", "matplotlib", "numpy", "pandas"}
HEAVY |= {"PIL", "IPython", "ipywidgets", "psycopg2"}
LATE_MARK = "# late:"
# Below the public SDK: no import cycle at all, even through imports inside functions.
BELOW_SDK = ("runyard._services", "runyard._compute", "runyard._envs", "runyard._serving")
BELOW_SDK += ("runyard._store",)
BELOW_SDK_LEAVES = {"runyard._entities", "runyard.exceptions", "runyard._config"}
BELOW_SDK_LEAVES |= {"runyard._jobenv", "runyard._spool", "runyard._metric_values"}
BELOW_SDK_LEAVES |= {"runyard._artifact_names"}


@dataclasses.dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the runyard module it resolves to, or the third-party module's name
    line: int
    late: bool  # inside a function (not at module level)
    text: str  # the statement's first line, as written

    @property
    def where(self) -> str:
        return f"{_MODULES[self.importer].relative_to(REPO)}:{self.line}"


def _module_names() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


_MODULES = _module_names()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules one import statement loads: for `from runyard.x import y` that is the
    submodule runyard.x.y when there is one, else runyard.x."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = name if _MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    found = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found.append(sub if sub in _MODULES else base)
    return found


def _imports(name: str) -> list[Import]:
    """Every import statement of a module, except those under ``if TYPE_CHECKING:``."""
    path = _MODULES[name]
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Import] = []

    def visit(node: ast.AST, late: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for branch in child.orelse:
                    visit(branch, late)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                text = lines[child.lineno - 1].strip()
                found.extend(
                    Import(name, target, child.lineno, late, text)
                    for target in dict.fromkeys(_targets(name, child))
                )
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, late or inner)

    visit(ast.parse("\n".join(lines), filename=str(path)), False)
    return found


_IMPORTS = {name: _imports(name) for name in _MODULES}


def _says_why_it_is_late(lines: list[str], line: int) -> bool:
    """A `# late: <reason>` line in the comment block directly above the import, or above
    the block of consecutive import lines it belongs to (one reason for several imports)."""
    above = line - 2
    while above >= 0 and lines[above].strip().startswith(("import ", "from ")):
        above -= 1
    while above >= 0 and lines[above].strip().startswith("#"):
        comment = lines[above].strip()
        if comment.startswith(LATE_MARK) and comment[len(LATE_MARK) :].strip():
            return True
        above -= 1
    return False


def _graph(imports: Iterable[Import], nodes: set[str]) -> dict[str, dict[str, Import]]:
    """importer -> imported -> the first import statement making that edge."""
    graph: dict[str, dict[str, Import]] = {node: {} for node in nodes}
    for imp in imports:
        if imp.importer in nodes and imp.target in nodes and imp.target != imp.importer:
            graph[imp.importer].setdefault(imp.target, imp)
    return graph


def _strongly_connected(graph: Mapping[str, Mapping[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; only the components holding a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(graph: Mapping[str, Mapping[str, Import]], start: str) -> list[str]:
    """The shortest chain start -> ... -> start (breadth first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return [*reversed(chain), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle")


def _describe_cycles(graph: Mapping[str, Mapping[str, Import]]) -> list[str]:
    """One entry per group of modules importing each other: its members, and the shortest
    cycle through each member, every step with the line that makes it."""
    report = []
    for component in _strongly_connected(graph):
        cycles: list[list[str]] = []
        for member in component:
            cycle = _shortest_cycle(graph, member)
            rotated = cycle[cycle.index(min(cycle[:-1])) : -1]
            rotated += cycle[: cycle.index(min(cycle[:-1]))] + [rotated[0]]
            if rotated not in cycles:
                cycles.append(rotated)
        lines = [f"{len(component)} modules in a cycle: {', '.join(component)}"]
        for cycle in cycles:
            lines.append("  " + " -> ".join(cycle))
            for importer, imported in zip(cycle, cycle[1:], strict=False):
                imp = graph[importer][imported]
                lines.append(f"      {imp.where}: {imp.text}")
        report.append("\n".join(lines))
    return report


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache", str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if result.returncode != 0:
        pytest.fail(
            "lint-imports (the contracts in [tool.importlinter] of pyproject.toml) failed:\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )


def test_imports_inside_functions_are_heavy_packages_or_say_why():
    unexplained = []
    for name, imports in _IMPORTS.items():
        lines = _MODULES[name].read_text(encoding="utf-8").splitlines()
        seen = set()
        for imp in imports:
            if not imp.late or imp.line in seen:
                continue
            statement = [i for i in imports if i.line == imp.line]
            if all(i.target.split(".")[0] in HEAVY for i in statement):
                continue
            seen.add(imp.line)
            if not _says_why_it_is_late(lines, imp.line):
                unexplained.append(f"{imp.where}: {imp.text}")
    if unexplained:
        pytest.fail(
            f"{len(unexplained)} import(s) inside functions neither load a heavy optional package "
            f"({', '.join(sorted(HEAVY))}) nor have a '{LATE_MARK} <why>' comment directly above "
            "(the job-side light path, or the one import closing an SDK cycle). Move them to "
            "module level (annotations-only imports under `if TYPE_CHECKING:`), or say why:\n"
            + "\n".join(unexplained),
            pytrace=False,
        )


def test_module_level_imports_form_no_cycle():
    graph = _graph(
        (imp for imports in _IMPORTS.values() for imp in imports if not imp.late), set(_MODULES)
    )
    cycles = _describe_cycles(graph)
    if cycles:
        pytest.fail(
            f"{len(cycles)} group(s) of runyard modules import each other at module level "
            "(TYPE_CHECKING imports left out); break each with a TYPE_CHECKING import or by "
            "moving the shared piece down a layer:\n" + "\n".join(cycles),
            pytrace=False,
        )


def test_no_import_cycle_below_the_public_sdk():
    below = {n for n in _MODULES if n.startswith(BELOW_SDK) or n in BELOW_SDK_LEAVES}
    graph = _graph((imp for imports in _IMPORTS.values() for imp in imports), below)
    cycles = _describe_cycles(graph)
    if cycles:
        pytest.fail(
            f"{len(cycles)} group(s) of modules below the public SDK import each other, counting "
            "the imports inside functions (TYPE_CHECKING imports left out); below the SDK no "
            "late import may close a cycle:\n" + "\n".join(cycles),
            pytrace=False,
        )
