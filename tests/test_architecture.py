"""The import graph of the project's code, read from the source: no cycles, imports flow one way
(requests_app <- unlearn_jobs <- verification), the pure packages import no Django, no production module
imports the demo world, no module hides an import inside a function, and no module passes 400 lines."""

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("palimpsest", "requests_app", "unlearn_jobs", "verification")
# The app order of DESIGN.md: an app may import the apps before it, never those after it.
APP_ORDER = ("requests_app", "unlearn_jobs", "verification")
# Packages that take dataclasses and tensors and never import Django (nor a module that does).
PURE = (
    "palimpsest.ml",
    "palimpsest.hashing",
    "palimpsest.jsonl",
    "palimpsest.signing",
    "requests_app.screening.checks",
    "unlearn_jobs.engine",
    "verification.metrics",
)
# The demo world's package is pure too, except its management commands (the Django face of the demo).
PURE_EXCEPT = ("palimpsest.demo.management",)
DEMO = "palimpsest.demo"
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module, as precise as the tree allows
    line: int
    in_function: str  # the enclosing function's name, "" at module level
    type_checking: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            modules[module_name(path)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    path = modules.get(name)
    return path is not None and path.name == "__init__.py"


def _resolve(target: str, names: list[str], modules: dict[str, Path]) -> list[str]:
    """`from a.b import c`: the module a.b.c when it exists, else a.b."""
    resolved = []
    for name in names:
        candidate = f"{target}.{name}"
        resolved.append(candidate if candidate in modules else target)
    return resolved or [target]


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if _is_package(module, modules) else module.rpartition(".")[0]

    def visit(node, function: str, type_checking: bool):
        for child in ast.iter_child_nodes(node):
            inner_function = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner_function = child.name
            guarded = type_checking or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, function, type_checking)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for target in _resolve(base, [a.name for a in child.names], modules):
                    yield Import(module, target, child.lineno, function, type_checking)
            yield from visit(child, inner_function, guarded)

    yield from visit(tree, "", False)


def _project_target(target: str, modules: dict[str, Path]) -> str | None:
    """The project module an import lands in (the longest known prefix), None outside the project."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], list[Import]]:
    modules = project_modules()
    edges = [imp for module, path in modules.items() for imp in imports_of(module, path, modules)]
    return modules, edges


def _within(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_reader_sees_the_imports_it_must_judge(graph):
    # A guard against a test that cannot fail: the graph holds imports we know exist.
    modules, edges = graph
    seen = {(e.source, e.target) for e in edges}
    assert ("requests_app.review.services", "requests_app.services") in seen
    assert ("requests_app.screening.checks.pipeline", "requests_app.screening.checks.evidence") in seen
    assert len(modules) > 100


def test_no_import_cycles(graph):
    modules, edges = graph
    adjacency: dict[str, set[str]] = {m: set() for m in modules}
    for e in edges:
        target = _project_target(e.target, modules)
        if target and target != e.source and not e.type_checking:
            adjacency[e.source].add(target)
    # Tarjan's strongly connected components: every component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def strongconnect(node: str):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in adjacency[node]:
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(adjacency):
        if node not in index:
            strongconnect(node)
    assert cycles == [], f"import cycles: {cycles}"


def test_imports_flow_from_upstream_apps_only(graph):
    modules, edges = graph
    wrong = []
    for e in edges:
        source_app = next((a for a in APP_ORDER if _within(e.source, [a])), None)
        target_app = next((a for a in APP_ORDER if _within(e.target, [a])), None)
        if source_app and target_app and APP_ORDER.index(target_app) > APP_ORDER.index(source_app):
            wrong.append(f"{e.source}:{e.line} imports {e.target}")
    assert wrong == []


def test_pure_packages_never_reach_django(graph):
    modules, edges = graph
    pure = {m for m in modules if _within(m, PURE) or (_within(m, [DEMO]) and not _within(m, PURE_EXCEPT))}
    assert "requests_app.screening.checks.pipeline" in pure and "unlearn_jobs.engine.runner" in pure
    wrong = []
    for e in edges:
        if e.source not in pure:
            continue
        if e.target.split(".")[0] in ("django", "rest_framework", "celery", "drf_spectacular"):
            wrong.append(f"{e.source}:{e.line} imports {e.target}")
        target = _project_target(e.target, modules)
        if target and target not in pure and not _is_package(target, modules):
            wrong.append(f"{e.source}:{e.line} imports {target}, which is not Django-free")
    assert wrong == []


def test_production_code_never_imports_the_demo_world(graph):
    modules, edges = graph
    wrong = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges
        if not _within(e.source, [DEMO]) and _within(e.target, [DEMO])
    ]
    assert wrong == []


def test_no_project_import_hides_inside_a_function(graph):
    # Django's AppConfig.ready is where an app is meant to load what must wait for the registry.
    modules, edges = graph
    wrong = [
        f"{e.source}:{e.line} imports {e.target} inside {e.in_function}()"
        for e in edges
        if e.in_function and e.in_function != "ready" and _project_target(e.target, modules)
    ]
    assert wrong == []


def test_modules_stay_under_400_lines(graph):
    modules, _ = graph
    long = {
        name: n
        for name, path in modules.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_setting_the_code_reads_comes_from_the_environment_and_is_documented(graph):
    # Given every PALIMPSEST_* name the code reads (settings.X, getattr(settings, "X"))
    modules, _ = graph
    read = set()
    for name, path in modules.items():
        if name == "palimpsest.settings":
            continue
        read |= set(re.findall(r"\bPALIMPSEST_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    settings_source = (ROOT / "palimpsest" / "settings.py").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "PALIMPSEST_BASE_MODEL" in read
    # Then settings.py loads each from the environment, and the README's table names it
    not_loaded = sorted(
        n for n in read if not re.search(rf'^{n} = [^\n]*(\n [^\n]*)*"{n}"', settings_source, re.M)
    )
    not_documented = sorted(n for n in read if f"`{n}`" not in readme)
    assert (not_loaded, not_documented) == ([], [])
