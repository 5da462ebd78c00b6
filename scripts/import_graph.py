"""The project's import graph: layer rules and import circles, from the source alone.

    python scripts/import_graph.py            # report; exit 1 on a circle or a layer broken
    python scripts/import_graph.py --dot FILE # also write the package graph for graphviz

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING`` (a lazy import
still couples two modules). Circles are strongly connected components of the module graph.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("carryover", "server", "eval", "benchmarks", "tests")

LAYERS: dict[str, frozenset[str]] = {
    "carryover.vocabulary": frozenset(),
    "carryover.pool": frozenset({"carryover.vocabulary"}),
    "carryover.pipeline": frozenset({"carryover.vocabulary", "carryover.pool"}),
    "carryover.recall": frozenset({"carryover.vocabulary", "carryover.pool"}),
    "carryover.local": frozenset({"carryover.vocabulary", "carryover.pool", "carryover.recall"}),
    "carryover.mcp": frozenset(
        {"carryover.vocabulary", "carryover.pool", "carryover.recall", "carryover.pipeline"}
    ),
    "carryover.lsp": frozenset(
        {
            "carryover.vocabulary",
            "carryover.pool",
            "carryover.pipeline",
            "carryover.recall",
            "carryover.local",
        }
    ),
}
"""For each layer, the other layers of the package it may import (``carryover.cli`` may import all)."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(roots: Sequence[str] = SOURCES) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "node_modules" not in path.parts and ".cache" not in path.parts:
                found[module_name(path)] = path
    return found


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node, is_package)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            # ``from package import submodule`` depends on the submodule, not on the package's names
            targets = submodules + ([] if all(name in known for name in submodules) else [base])
        for name in targets:
            target = name
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield target


def graph(known: Mapping[str, Path]) -> dict[str, set[str]]:
    return {module: set(imports_of(module, path, known)) for module, path in known.items()}


def circles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
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
                    found.append(sorted(component))
    return found


def layer_of(module: str) -> str | None:
    for layer in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def layer_violations(edges: Mapping[str, Iterable[str]]) -> list[str]:
    broken = []
    for module, targets in sorted(edges.items()):
        layer = layer_of(module)
        if layer is None:
            if module.startswith("carryover.") and module not in ("carryover.cli", "carryover.__main__"):
                broken.append(f"{module}: in no layer")
            continue
        for target in sorted(targets):
            other = layer_of(target)
            if target in ("carryover.cli", "carryover.__main__"):
                broken.append(f"{module} imports {target} (the CLI is the top)")
            elif other is not None and other != layer and other not in LAYERS[layer]:
                broken.append(f"{module} imports {target} ({layer} may not import {other})")
            elif target.split(".")[0] in ("server", "eval", "benchmarks", "tests"):
                broken.append(f"{module} imports {target} (the product imports no harness)")
    return broken


LSP_PACKAGES = ("lsprotocol", "pygls")


def lsp_outside_lsp(known: Mapping[str, Path]) -> list[str]:
    """Modules of the product outside ``carryover.lsp`` that import an LSP library."""
    found = []
    for module, path in sorted(known.items()):
        if not module.startswith("carryover.") or layer_of(module) == "carryover.lsp":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(name.split(".")[0] in LSP_PACKAGES for name in names):
                found.append(f"{module} imports an LSP library (only carryover.lsp knows LSP)")
                break
    return found


def package_graph(edges: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    def package(module: str) -> str:
        return layer_of(module) or ".".join(module.split(".")[:2])

    collapsed: dict[str, set[str]] = {}
    for module, targets in edges.items():
        source = package(module)
        collapsed.setdefault(source, set()).update(package(t) for t in targets if package(t) != source)
    return collapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dot", type=Path, help="write the package graph (graphviz dot) here")
    args = parser.parse_args(argv)
    known = modules()
    edges = graph(known)
    found = circles(edges)
    broken = layer_violations(edges) + lsp_outside_lsp(known)
    packages = package_graph(edges)
    for source in sorted(packages):
        if source.startswith("carryover"):
            print(
                f"{source} -> {', '.join(sorted(t for t in packages[source] if t.startswith('carryover')))}"
            )
    print(f"{len(known)} modules, {sum(len(t) for t in edges.values())} imports")
    for component in found:
        print("circle: " + " <-> ".join(component))
    for line in broken:
        print("layer: " + line)
    if args.dot:
        lines = ["digraph carryover {", "  rankdir=BT;"]
        for source in sorted(packages):
            for target in sorted(packages[source]):
                lines.append(f'  "{source}" -> "{target}";')
        args.dot.write_text("\n".join([*lines, "}"]) + "\n", encoding="utf-8")
    print(f"{len(found)} circles, {len(broken)} layer violations")
    return 1 if found or broken else 0


if __name__ == "__main__":
    sys.exit(main())
