"""The core's modules import one another without a cycle (issue 20, item 1).

A cycle is how two layers become one: the coordinator's module importing the worker's code and the
worker's code importing the coordinator back. The graph is read from the source (every import,
deferred ones inside functions too; imports under ``if TYPE_CHECKING:`` are for type checkers only
and never run, so they are left out).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "ser_core"


def module_names(package: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package at ``package``."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports at run time (``from pkg import mod`` names the
    module; ``from pkg.mod import x`` names ``pkg.mod``; relative imports are resolved)."""
    package = name.split(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_only(tree)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name and m != package}


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (each a cycle, or several)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_core_imports_no_module_that_imports_it_back():
    graph = import_graph(CORE)
    found = cycles(graph)
    assert not found, "import cycles in ser_core (each line: modules that import one another):\n" + "\n".join(
        f"  {', '.join(c)}: " + "; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in found)


def test_the_cell_code_a_worker_runs_imports_nothing_above_it():
    """ser_core.cell (what a worker unpickles and runs) depends on the protocol, records, results and
    specs only; the engines (engines, executor, crosscorpus) import it, never the reverse."""
    graph = import_graph(CORE)
    above = {"ser_core.runner", "ser_core.engines", "ser_core.executor", "ser_core.crosscorpus", "ser_core.plan", "ser_core.suites",
             "ser_core.features", "ser_core.corpus", "ser_core.cli"}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    assert not reach("ser_core.cell") & above
    for coordinator in ("ser_core.engines", "ser_core.executor", "ser_core.crosscorpus"):
        assert "ser_core.cell" in graph[coordinator]


def test_rich_is_imported_only_where_text_is_drawn():
    """The library reports plain events (ser_core.events); drawing them is the command line's. Only
    the CLI's modules and the two renderers of boards as terminal text import rich."""
    drawing = {"ser_core.console", "ser_core.crossboard"}
    users = set()
    for name, path in module_names(CORE).items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            if any(n == "rich" or n.startswith("rich.") for n in names):
                users.add(name)
    assert users - drawing == {n for n in users if n.startswith("ser_core.cli")}
    assert {"ser_core.runner", "ser_core.crosscorpus", "ser_core.executor", "ser_core.events"}.isdisjoint(users)


def readme_layers(text: str, modules: set[str]) -> list[list[str]]:
    """The layers README's Layout section lists, top first: each sub-bullet of its ``ser_core/`` item
    is a layer, and the modules it names (in backticks, ``api/testing`` for ``ser_core.api.testing``)
    are that layer's."""
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n  - ", section.split("\n- `ser_core/`:", 1)[1].split("\n- ", 1)[0])[1:]
    layers = []
    for bullet in bullets:
        named = ["ser_core." + word.replace("/", ".") for word in re.findall(r"`([a-z_/]+)`", bullet)]
        layers.append([name for name in named if name in modules])
    return layers


def test_the_readme_lists_every_module_in_layers_that_import_only_downwards():
    """README's Layout section is the map of the core: every module is in exactly one of its layers,
    and no module imports one in a higher layer (a board module importing the command line, an input
    parser importing the engine): the layering a reader is told is the one the code has."""
    graph = import_graph(CORE)
    modules = set(graph) - {"ser_core"}  # the package itself only re-exports the API
    layers = readme_layers((ROOT / "README.md").read_text(), modules)
    listed = [name for layer in layers for name in layer]
    assert len(layers) >= 5
    assert sorted(modules - set(listed)) == [], "modules missing from README's Layout section"
    assert sorted({n for n in listed if listed.count(n) > 1}) == [], "modules listed in two layers"
    level = {name: i for i, layer in enumerate(layers) for name in layer}
    upward = sorted(f"{a} (layer {level[a] + 1}) imports {b} (layer {level[b] + 1})"
                    for a in modules for b in graph[a] if b in level and level[b] < level[a])
    assert upward == [], "imports against README's layers:\n  " + "\n  ".join(upward)


def test_the_readme_layers_are_read_as_written():
    text = ("# x\n\n## Layout\n\n- `ser_core/api/`: the API.\n- `ser_core/`: the core:\n"
            "  - top: `cli` (the `serbench` app), `api/testing`;\n  - bottom: `errors`, `nosuch`.\n"
            "- `plugins/`: `cli` again, not a layer.\n\n## Next\n- `errors`\n")
    modules = {"ser_core.cli", "ser_core.api.testing", "ser_core.errors"}
    assert readme_layers(text, modules) == [["ser_core.cli", "ser_core.api.testing"], ["ser_core.errors"]]


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("b_text, expected", [
    ("def f():\n    from pkg import a\n", [["pkg.a", "pkg.b"]]),  # a deferred import closes the cycle
    ("from .a import x\n", [["pkg.a", "pkg.b"]]),  # relative
    ("import pkg.a\n", [["pkg.a", "pkg.b"]]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\n", []),  # never runs
    ("import os\n", []),
], ids=["deferred", "relative", "plain", "type-checking-only", "none"])
def test_the_scanner_finds_a_cycle_however_it_is_imported(tmp_path, b_text, expected):
    root = _package(tmp_path, {"__init__.py": "", "a.py": "from pkg.b import y\n", "b.py": b_text})
    assert cycles(import_graph(root)) == expected


def test_the_scanner_names_a_submodule_imported_from_its_package(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "a.py": "from pkg import sub\n", "sub/__init__.py": "",
                               "sub/c.py": "from pkg.sub import d\n", "sub/d.py": "from ..a import q\n"})
    graph = import_graph(root)
    assert graph["pkg.a"] == {"pkg.sub"} and graph["pkg.sub.c"] == {"pkg.sub.d"} and graph["pkg.sub.d"] == {"pkg.a"}
    assert cycles(graph) == []  # pkg.sub (its __init__) imports nothing: no cycle through it


def top_level_definitions(path: Path) -> set[str]:
    """The names a module defines itself (functions, classes, assignments), not those it imports."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_public_name_is_defined_once_in_the_helpers_layer_never_beside_a_pipeline_stage():
    """A plugin author's helpers (the names of ``ser_core.api``) live in the bottom layer, the plugin
    machinery and helpers, and nowhere else: no module of a pipeline stage (manifests, extraction,
    the cell, the store, the board) also holds something a plugin calls, so a stage can change
    without touching the contract, and each public name has one home."""
    from ser_core import api

    modules = module_names(CORE)
    graph = import_graph(CORE)
    layers = readme_layers((ROOT / "README.md").read_text(), set(graph) - {"ser_core"})
    helpers = set(layers[-1])
    defined = {name: top_level_definitions(path) for name, path in modules.items()
               if not name.startswith("ser_core.api") and name != "ser_core"}
    homes = {public: sorted(m for m, names in defined.items() if public in names) for public in api.__all__}
    assert {p: h for p, h in homes.items() if len(h) != 1} == {}, "public names defined in no module or in several"
    outside = {p: h[0] for p, h in homes.items() if h[0] not in helpers}
    assert outside == {}, "public names defined beside a pipeline stage (move them to a helpers module)"
    assert {"ser_core.readers", "ser_core.metrics", "ser_core.audio", "ser_core.specs"} <= {h[0] for h in homes.values()}
