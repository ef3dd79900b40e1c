"""The package's shape (issue 17's facts): no import cycle, no module too long, no private name
imported across modules, and no PostgreSQL driver loaded for a SQLite configuration."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "consent_server"
MOST_LINES = 450


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules a module imports at its top level (what runs when it loads)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base not in known:
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in known else base)
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle():
    assert cycle(graph()) is None, " -> ".join(cycle(graph()))


def test_the_cycle_finder_finds_one():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle(edges) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_relative_imports():
    edges = graph()
    assert "consent_server.ledger.events" in edges["consent_server.ledger.sqlite"]
    assert "consent_server.database" in edges["consent_server.ledger.sqlite"]
    assert "consent_server.consent.notices" in edges["consent_server.consent.devices"]


def test_no_module_is_too_long():
    long = {str(path.relative_to(PACKAGE.parent)): lines for path in PACKAGE.rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES}
    assert not long, f"split these (over {MOST_LINES} lines): {long}"


def test_no_private_name_is_imported_across_modules():
    private = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names
                         if a.name.startswith("_") and not a.name.startswith("__")]
                if names or any(part.startswith("_") and not part.startswith("__")
                                for part in (node.module or "").split(".")):
                    private.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not private


def test_a_sqlite_app_loads_no_postgresql_driver(tmp_path):
    code = ("import sys; from consent_server import create_app; "
            "create_app({'TESTING': True}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"CONSENT_INSTANCE_PATH": str(tmp_path),
                                          "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert out.stdout.strip() == "[]", out.stdout
