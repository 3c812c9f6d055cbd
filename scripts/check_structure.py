"""Structure checks for ``model/`` and ``graph/`` (run by ``make lint``):

- no import cycle between the project's modules, counting imports inside functions too
  (a late import hides a cycle from Python, not from a reader);
- no module over ``MAX_MODULE_LINES`` lines and no function over ``MAX_FUNCTION_LINES``.

``python scripts/check_structure.py [--verbose]`` prints each problem and exits 1 if any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "graph")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the checked packages."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules ``tree`` imports (``from a import b`` counts ``a.b`` if a module)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name, is_package)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _absolute(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = name.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package_edge(a: str, b: str) -> bool:
    """``a`` importing its own package (or the package importing its module) is no cycle."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def size_problems(path: Path, tree: ast.AST, text: str) -> Iterator[str]:
    rel = path.relative_to(ROOT)
    lines = text.count("\n")
    if lines > MAX_MODULE_LINES:
        yield f"{rel}: {lines} lines (over {MAX_MODULE_LINES})"
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                limit = MAX_FUNCTION_LINES
                yield f"{rel}:{node.lineno}: {node.name}() is {length} lines (over {limit})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print the import graph too")
    args = parser.parse_args(argv)
    found = modules()
    graph: dict[str, set[str]] = {}
    problems: list[str] = []
    for name, path in found.items():
        text = path.read_text()
        tree = ast.parse(text, str(path))
        deps = imported(tree, name, path.name == "__init__.py", set(found))
        graph[name] = {d for d in deps if not _package_edge(name, d)}
        problems.extend(size_problems(path, tree, text))
        if args.verbose:
            print(f"{name} -> {', '.join(sorted(graph[name])) or '-'}")
    problems.extend(f"import cycle: {' <-> '.join(c)}" for c in cycles(graph))
    for problem in problems:
        print(problem)
    print(f"{len(found)} modules checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
