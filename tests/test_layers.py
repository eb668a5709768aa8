"""The import graph follows the layers: every import of every source file
(at any level, inside functions too, relative ones resolved, and
`__import__` / `importlib.import_module` with a literal name) is checked.

Packages: composer < training < gui; benchmarks and tools may use all three;
nothing imports tests. Inside composer, subpackages are layered:
base (errors, config, assets) < music < representations < {model, corpus}
< analysis < {services, sound} < cli; a layer never imports a higher one or
a sibling of its own rank, and no two packages or subpackages import each
other, directly or round a longer cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("composer", "training", "gui", "benchmarks", "tools")
KNOWN_TOP = SOURCE_PACKAGES + ("tests",)

# what each top-level package must never import
FORBIDDEN = {
    "composer": {"training", "gui", "benchmarks", "tools", "tests"},
    "training": {"gui", "benchmarks", "tools", "tests"},
    "gui": {"benchmarks", "tools", "tests"},
    "benchmarks": {"tests"},
    "tools": {"tests"},
}
COMPOSER_RANK = {"composer": 0, "composer.assets": 0, "composer.music": 1, "composer.representations": 2,
                 "composer.model": 3, "composer.corpus": 3, "composer.analysis": 4,
                 "composer.services": 5, "composer.sound": 5, "composer.cli": 6}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """The package (or composer subpackage) a module belongs to."""
    parts = module.split(".")
    if parts[0] != "composer":
        return parts[0]
    if module == "composer.__main__":
        return "composer.cli"             # `python -m composer` is the command line
    if len(parts) >= 2 and f"composer.{parts[1]}" in COMPOSER_RANK:
        return f"composer.{parts[1]}"
    return "composer"


def _exists(module: str, root: Path) -> bool:
    base = root.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path, root: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import of the project's own packages in `path`."""
    module = module_name(path, root)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:        # `from composer import audio` imports the module composer.audio
                sub = f"{base}.{alias.name}"
                found.append((sub if _exists(sub, root) else base, node.lineno))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "id", None) == "__import__"
                   or getattr(node.func, "attr", None) == "import_module")):
            found.append((node.args[0].value, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in KNOWN_TOP]


def import_edges(root: Path) -> list[tuple[str, str, str]]:
    """(importing unit, imported unit, "file:line") for every import between different units."""
    edges = []
    for top in SOURCE_PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            here = unit_of(module_name(path, root))
            for name, line in imports_of(path, root):
                there = unit_of(name)
                if there != here:
                    edges.append((here, there, f"{path.relative_to(root)}:{line}"))
    return edges


def _cycles(edges) -> list[list[str]]:
    """Strongly connected groups of more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def _one_cycle(edges, group: list[str]) -> list[str]:
    """The shortest cycle through group[0] inside `group`, as "file:line (a -> b)" of one import per hop."""
    where = {}
    for a, b, at in edges:
        where.setdefault((a, b), at)
    start, paths = group[0], {group[0]: []}
    frontier = [start]
    while frontier:
        nxt = []
        for a in frontier:
            for b in group:
                if (a, b) not in where:
                    continue
                if b == start:
                    return [f"{where[x, y]} ({x} -> {y})" for x, y in paths[a] + [(a, b)]]
                if b not in paths:
                    paths[b] = paths[a] + [(a, b)]
                    nxt.append(b)
        frontier = nxt
    return []


def layer_violations(root: Path) -> list[str]:
    edges = import_edges(root)
    problems = []
    for here, there, where in edges:
        top_here, top_there = here.split(".")[0], there.split(".")[0]
        if top_there in FORBIDDEN.get(top_here, ()):
            problems.append(f"{where}: {top_here} imports {there}")
        elif here in COMPOSER_RANK and there in COMPOSER_RANK and COMPOSER_RANK[there] >= COMPOSER_RANK[here]:
            problems.append(f"{where}: {here} (layer {COMPOSER_RANK[here]}) imports {there} "
                            f"(layer {COMPOSER_RANK[there]}, not below it)")
    for group in _cycles(edges):
        problems.append(f"import cycle between {', '.join(group)}: " + "; ".join(_one_cycle(edges, group)))
    return problems


def test_the_import_graph_follows_the_layers():
    problems = layer_violations(ROOT)
    assert not problems, "\n".join(problems)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for top in SOURCE_PACKAGES:
        (tmp_path / top).mkdir(exist_ok=True)
    return tmp_path


def test_an_upward_import_inside_a_function_is_named_with_its_line(tmp_path):
    root = _tree(tmp_path, {
        "composer/__init__.py": "",
        "composer/music/__init__.py": "",
        "composer/music/song.py": "import os\n\n\ndef f():\n    from ..services import generate\n",
        "composer/services/__init__.py": "",
        "composer/services/generate.py": "from composer.music.song import f\n",
    })
    assert layer_violations(root) == [
        "composer/music/song.py:5: composer.music (layer 1) imports composer.services (layer 5, not below it)",
        "import cycle between composer.music, composer.services: composer/music/song.py:5 "
        "(composer.music -> composer.services); composer/services/generate.py:1 (composer.services -> composer.music)",
    ]


def test_packages_may_not_import_upwards_or_tests(tmp_path):
    root = _tree(tmp_path, {
        "composer/__init__.py": "",
        "composer/cli/__init__.py": "",
        "composer/cli/main.py": "__import__('training.cli')\n",
        "training/__init__.py": "from gui import settings\n",
        "gui/__init__.py": "",
        "gui/settings.py": "",
        "tools/__init__.py": "import tests.tinymodels\n",
        "benchmarks/__init__.py": "from training import cli\n",
    })
    assert layer_violations(root) == [
        "composer/cli/main.py:1: composer imports training",
        "training/__init__.py:1: training imports gui",
        "tools/__init__.py:1: tools imports tests",
    ]


def test_lower_layers_may_be_imported(tmp_path):
    root = _tree(tmp_path, {
        "composer/__init__.py": "from .errors import ComposerError\n",
        "composer/errors.py": "class ComposerError(Exception): pass\n",
        "composer/music/__init__.py": "",
        "composer/music/song.py": "from ..errors import ComposerError\n",
        "training/__init__.py": "from composer.music import song\n",
        "gui/__init__.py": "import training\n",
        "benchmarks/__init__.py": "import gui, tools\n",
    })
    assert layer_violations(root) == []
