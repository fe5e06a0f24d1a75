"""The project's shape, measured: its import graph (function-local imports included) and the modules a
trigger passes through.

Used by tests/test_architecture.py (`pytest tests/test_architecture.py -s` prints both legs of a
trigger); `python -m tests.architecture` prints the import cycles.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("heartbeat_site", "licensing", "presence", "triggers")


def project_modules() -> dict[str, Path]:
    """Every non-test, non-migration module of the project, by dotted name."""
    found: dict[str, Path] = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its file (top level or inside functions)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    graph = {name: imports_of(name, path, known) for name, path in modules.items()}
    # A package's __init__ runs on import of its submodules: it is not an edge of the cycle kind.
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = iter(range(1 << 30))

    def visit(node: str) -> None:
        index[node] = low[node] = next(counter)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in graph:
        if node not in index:
            visit(node)
    return found


# ---- the modules a call passes through -------------------------------------------------------------


def _module_of(filename: str) -> str | None:
    try:
        relative = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    if relative.parts[0] not in APPS or "migrations" in relative.parts:
        return None
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Trace:
    """Project modules entered while tracing, in order, and the module-level call edges between them."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.edges: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _profile(self, frame, event: str, arg) -> None:
        if event != "call":
            return
        callee = _module_of(frame.f_code.co_filename)
        if callee is None:
            return
        caller_frame = frame.f_back
        caller = None
        while caller_frame is not None and caller is None:
            caller = _module_of(caller_frame.f_code.co_filename)
            caller_frame = caller_frame.f_back
        with self._lock:
            if callee not in self.order:
                self.order.append(callee)
            if caller is not None and caller != callee:
                self.edges.add((caller, callee))

    def start_here(self) -> None:
        """Trace this thread too (a thread that existed before the trace began)."""
        sys.setprofile(self._profile)

    def stop_here(self) -> None:
        sys.setprofile(None)

    def __enter__(self) -> Trace:
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]

    def back_and_forth(self) -> list[list[str]]:
        """Cycles in the dynamic call graph between modules (A calls B, which calls back into A)."""
        graph: dict[str, set[str]] = {}
        for caller, callee in self.edges:
            graph.setdefault(caller, set()).add(callee)
        return cycles(graph)


def traced(fn: Callable[[], object]) -> Trace:
    with Trace() as trace:
        fn()
    return trace


def report(title: str, trace: Trace) -> str:
    lines = [f"{title}: {len(trace.order)} project modules", *(f"  {name}" for name in trace.order)]
    lines.append(f"  back-and-forth between modules: {trace.back_and_forth() or 'none'}")
    return "\n".join(lines)


if __name__ == "__main__":
    found = cycles(import_graph())
    for cycle in found:
        print("import cycle:", " → ".join(cycle))
    print(f"{len(found)} import cycle(s) among {len(project_modules())} modules")
