"""The import graph keeps its shape: layers import one way (DESIGN.md "Layout"), no module circle,
and no import hidden in a function body without a comment saying why. Pure ast, no Django."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["config", "frontend", "campaigns", "webhooks", "inbox", "salesreps", "platforms", "core"]
SKIP = {"tests", "migrations", "bench", ".venv", "var", "node_modules"}


def project_modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if rel.parts[0] not in LAYERS or path.name.startswith("test_") or path.name == "conftest.py":
            continue
        parts = list(rel.parts[:-1]) + ([] if path.name == "__init__.py" else [path.stem])
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: dict) -> list[tuple[str, str, int, bool, bool]]:
    """(imported project module, the imported name, line, inside a function, commented) per import."""
    source = path.read_text()
    lines = source.split("\n")
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def resolve(module: str | None, level: int) -> str:
        if not level:
            return module or ""
        base = package.split(".")[: len(package.split(".")) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def target(candidate: str) -> str:
        while candidate and candidate not in known:
            candidate = candidate.rpartition(".")[0]
        return candidate

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom):
                commented = "#" in lines[child.lineno - 1]
                if isinstance(child, ast.Import):
                    pairs = [(a.name, a.name) for a in child.names]
                else:
                    base = resolve(child.module, child.level)
                    pairs = [(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base, a.name) for a in child.names]
                for module, imported in pairs:
                    found.append((target(module), imported, child.lineno, in_function, commented))
            visit(child, inside)

    visit(ast.parse(source), False)
    return [f for f in found if f[0] != name]


def graph():
    known = project_modules()
    return known, {name: imports_of(name, path, known) for name, path in known.items()}


def test_no_import_runs_against_the_layers():
    known, edges = graph()
    upward = []
    for name, found in edges.items():
        for module, imported, line, _, _ in found:
            if module and LAYERS.index(module.split(".")[0]) < LAYERS.index(name.split(".")[0]):
                upward.append(f"{known[name].relative_to(ROOT)}:{line} imports {imported} from {module}")
    assert upward == []


def test_no_module_circle():
    _, edges = graph()
    adjacency = {name: {m for m, *_ in found if m} for name, found in edges.items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def strong(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adjacency.get(v, ()):
            if w not in index:
                strong(w)
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
                circles.append(" ⇄ ".join(sorted(component)))

    for v in adjacency:
        if v not in index:
            strong(v)
    assert circles == []


def test_imports_inside_functions_say_why():
    known, edges = graph()
    hidden = [f"{known[name].relative_to(ROOT)}:{line} imports {imported} inside a function"
              for name, found in edges.items() for module, imported, line, inside, commented in found
              if inside and not commented]
    assert hidden == []


def test_the_checker_sees_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The checks can fail: a planted upward import and circle are found."""
    for app, body in {"core": "from inbox import a\n", "inbox": "from core import b\n"}.items():
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
        (tmp_path / app / ("b.py" if app == "core" else "a.py")).write_text(body)
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    known, edges = graph()
    assert ("inbox.a", "a", 1, False, False) in edges["core.b"]
    assert ("core.b", "b", 1, False, False) in edges["inbox.a"]
