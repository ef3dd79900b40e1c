"""The tests' own layout: shared helpers are fixtures (tests/conftest.py and the plugin modules
it names in pytest_plugins), so no module under tests/ imports conftest or another module that
lives in tests/."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def local_imports(path: Path, local: set[str]) -> list[str]:
    """The modules of tests/ (or conftest) a file imports, anywhere in it, as line: name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["." * node.level]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if name.startswith(".") or top in local or top == "tests":
                found.append(f"{node.lineno}: {name}")
    return found


def test_no_module_in_tests_imports_another():
    modules = sorted(TESTS.rglob("*.py"))
    local = {path.stem for path in modules} | {"conftest"}
    assert {"conftest", "test_layout"} <= local  # the walk found them
    offenders = {str(path.relative_to(TESTS)): imports for path in modules
                 if (imports := local_imports(path, local))}
    assert not offenders, f"import a fixture instead: {offenders}"


def test_the_check_finds_such_an_import(tmp_path):
    """The check above catches each form: import x, from x import y, from . import y, an import
    inside a function, and conftest."""
    local = {"conftest", "fixtures_people", "test_exports"}
    for source in ("import conftest", "from conftest import CHOICE",
                   "from test_exports import seed", "import fixtures_people as people",
                   "from . import servers", "def f():\n    from tests.test_exports import seed"):
        path = tmp_path / "test_x.py"
        path.write_text(source + "\n", encoding="utf-8")
        assert local_imports(path, local), source
    path.write_text("import json\nfrom consent_server import ledger\n", encoding="utf-8")
    assert local_imports(path, local) == []
