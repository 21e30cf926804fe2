"""The package's shape: small modules, and imports that go one way only."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "keras_mnist_gan"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Every module of the package, subpackages included, by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        parts = ("keras_mnist_gan",) + path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The package's modules that one import statement of ``name`` names."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in modules}
    if node.level:
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    # ``from . import outputs`` names a module; ``from .data import load_mnist`` a name in one.
    named = {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names}
    return named & set(modules)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at the top or inside a
    function alike."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        nodes = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))]
        graph[name] = set().union(*(_imported(name, path, n, modules) for n in nodes)) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None."""
    done: set[str] = set()
    for start in sorted(graph):
        stack, on_path = [(start, iter(sorted(graph[start])))], [start]
        while stack:
            node, todo = stack[-1]
            nxt = next(todo, None)
            if nxt is None:
                stack.pop()
                on_path.pop()
                done.add(node)
            elif nxt in on_path:
                return on_path[on_path.index(nxt) :] + [nxt]
            elif nxt not in done:
                stack.append((nxt, iter(sorted(graph[nxt]))))
                on_path.append(nxt)
    return None


def test_no_module_is_longer_than_400_lines():
    lengths = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    long = {name: n for name, n in sorted(lengths.items()) if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_no_two_modules_import_each_other():
    cycle = find_cycle(import_graph())
    assert cycle is None, "the package's imports go round in a circle: " + " -> ".join(cycle)


def test_the_checks_see_imports_inside_functions_and_report_the_cycle():
    graph = import_graph()
    assert "keras_mnist_gan.saving" in graph["keras_mnist_gan.callbacks"]  # Checkpoint.save imports it
    assert "keras_mnist_gan.backend.tensorflow" in graph["keras_mnist_gan.backend"]  # ``from . import tensorflow``
    assert "keras_mnist_gan.data" in graph["keras_mnist_gan.cli.evaluate"]  # ``from ..data import load_mnist``
    cycle = find_cycle({**graph, "keras_mnist_gan.outputs": {"keras_mnist_gan.rundir"}})  # rundir imports outputs
    assert cycle[0] == cycle[-1] and sorted(cycle[1:]) == ["keras_mnist_gan.outputs", "keras_mnist_gan.rundir"]
