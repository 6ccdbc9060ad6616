"""The package structure docs/architecture.md describes: no import cycle among agrochat's modules, and each
package imports only the packages below it."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# what each package may import from agrochat (besides itself and the top-level errors and hub modules); console is
# the command-line error output, provenance the header of the results files agrochat eval writes
ALLOWED = {
    "domain": set(),
    "bridge": set(),
    "data_gen": {"domain", "console"},
    "train": {"bridge", "data_gen", "domain", "console"},
    "genome": {"domain"},
    "chat": {"bridge", "domain", "data_gen", "train", "genome", "console", "provenance"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(mod: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """agrochat modules ``mod`` imports anywhere in its file (module level, functions, TYPE_CHECKING)."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for n in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(n, ast.Import):
            names = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (n.level - 1)] + ([n.module] if n.module else [])
                target = ".".join(base)
            else:
                target = n.module or ""
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in n.names]
        found |= {t for t in names if t in modules and t != mod}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycle():
    graph = _graph()
    # a package's __init__ re-exports its modules; a module that imports its own package's name would loop
    # through it, so edges into one's own package __init__ count too
    assert _cycles(graph) == []


def test_packages_import_only_what_is_below_them():
    wrong = []
    for mod, targets in _graph().items():
        pkg = _package(mod)
        if pkg not in ALLOWED:
            continue
        for t in targets:
            tp = _package(t)
            if tp not in (pkg, "errors", "hub") and tp not in ALLOWED[pkg]:
                wrong.append(f"{mod} -> {t}")
    assert wrong == []
