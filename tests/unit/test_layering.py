"""The layers of docs/architecture.md, checked over the source: no module imports a layer above it, no cycle.

Imports are read with `ast`, so type-only imports (under `if TYPE_CHECKING:`) and imports inside
functions count as much as module-level ones: a cycle of annotations is still a cycle a reader
has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "apiserver"

# Highest first. A module may import its own layer and the layers below it. The first prefix that
# matches a module decides its layer, so a specific module is listed before its package.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("command line", ("apiserver.__main__", "apiserver.cli")),
    ("wiring", ("apiserver.app", "apiserver.grpc.server")),
    (
        "surfaces",
        (
            "apiserver.http.native",
            "apiserver.http.resource_routes",
            "apiserver.http.discovery",
            "apiserver.http.openapi",
            "apiserver.http.openapi_v2",
            "apiserver.http.decrypt",
            "apiserver.http.token_routes",
            "apiserver.http.key_routes",
            "apiserver.http.access_token_routes",
            "apiserver.http.health_routes",
            "apiserver.compat",
            "apiserver.ui",
            "apiserver.grpc.decrypt",
        ),
    ),
    ("edge", ("apiserver.http", "apiserver.grpc")),
    ("services", ("apiserver.services",)),
    ("resources", ("apiserver.resources",)),
    ("machinery", ("apiserver.machinery",)),
    ("store", ("apiserver.store",)),
    ("crypto and keeper backends", ("apiserver.crypto", "apiserver.keepers")),
    ("settings and instruments", ("apiserver.config", "apiserver.ops", "apiserver")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exists(module: str) -> bool:
    path = PACKAGE.parent / module.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path: Path) -> set[str]:
    """Every `apiserver` module that `path` imports, anywhere in it (type-only and lazy ones too)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "apiserver")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "apiserver":
                continue
            for alias in node.names:  # `from . import meta` imports the module `meta`
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    found.discard(module)
    return found


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes if p != "apiserver") or module in prefixes:
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and to docs/architecture.md")


def _graph() -> dict[str, set[str]]:
    return {
        module_name(path): imports_of(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if "generated" not in path.parts and "protos" not in path.parts
    }


GRAPH = _graph()


def test_every_module_has_a_layer() -> None:
    for module in GRAPH:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_a_layer_above_it(module: str) -> None:
    own = layer_of(module)
    upward = sorted(
        f"{target} ({LAYERS[layer_of(target)][0]})"
        for target in GRAPH[module]
        if not target.startswith("apiserver.grpc.generated") and layer_of(target) < own
    )
    assert not upward, f"{module} ({LAYERS[own][0]}) imports a layer above it: {', '.join(upward)}"


def test_no_import_cycle() -> None:
    """Depth-first search over the module graph; the first cycle found is reported whole."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_checker_sees_type_only_and_lazy_imports() -> None:
    """The checker itself can fail: it finds the type-only and the function-local imports it must judge."""
    assert "apiserver.store.txn" in GRAPH["apiserver.machinery.strategy"]  # under `if TYPE_CHECKING:`
    assert "apiserver.grpc.server" in GRAPH["apiserver.app"]  # imported inside a function
    assert layer_of("apiserver.http.middlewares") > layer_of("apiserver.compat.influxdb")


def test_only_the_store_reads_its_cache() -> None:
    """Everything above `store/` reads through the Store's read interface or a transaction."""
    readers = sorted(
        f"{module_name(path)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        if "store" not in path.relative_to(PACKAGE).parts[:1]
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr == "cache"
    )
    assert not readers, f"read the store's cache directly: {', '.join(readers)}"
