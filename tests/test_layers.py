"""The layers run one way: cdt_portal → accounts → signin → acknowledgements → families →
onboarding → departments → portal.

Two guards, each proving it can fail:
- import-linter's contract in pyproject.toml (what `make lint` runs), tried on a copy of the
  tree: it passes as the tree is, and fails once an upward import is hidden inside a function;
- a walk over every module's syntax tree that finds an import of a higher layer anywhere,
  including inside functions and through `importlib.import_module("...")`.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top.
LAYERS = [
    "cdt_portal",
    "accounts",
    "signin",
    "acknowledgements",
    "families",
    "onboarding",
    "departments",
    "portal",
]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def copy_tree(target: Path) -> None:
    for package in LAYERS:
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree_copy(tmp_path) -> Path:
    copy_tree(tmp_path)
    return tmp_path


def test_the_import_linter_contract_holds_and_fails_on_an_upward_import(tree_copy):
    result = lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout, result.stdout

    models = tree_copy / "accounts" / "models.py"
    models.write_text(
        models.read_text(encoding="utf-8")
        + "\n\ndef _bad():\n    from onboarding import models  # noqa\n",
        encoding="utf-8",
    )
    result = lint_imports(tree_copy)
    assert result.returncode != 0, result.stdout
    assert "0 kept, 1 broken" in result.stdout, result.stdout
    assert "accounts.models -> onboarding.models" in result.stdout, result.stdout


# The syntax-tree walk -------------------------------------------------------------------------


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the module, at any depth, and every
    `import_module("...")` / `__import__("...")` call with a literal name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def upward_imports(root: Path) -> list[str]:
    wrong = []
    for level, package in enumerate(LAYERS):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, module in imported_modules(tree):
                top = module.split(".")[0]
                if top in LAYERS and LAYERS.index(top) > level:
                    wrong.append(f"{path.relative_to(root)}:{line} imports {module}")
    return wrong


def test_no_module_imports_a_higher_layer_anywhere():
    assert upward_imports(ROOT) == []


def test_the_walk_finds_an_upward_import_hidden_in_a_function(tree_copy):
    assert upward_imports(tree_copy) == []
    views = tree_copy / "accounts" / "views.py"
    text = views.read_text(encoding="utf-8")
    lines = text.count("\n")
    views.write_text(
        text
        + "\n\ndef _bad():\n"
        + "    from portal.navigation import home_url  # noqa\n"
        + "    import onboarding.services  # noqa\n"
        + "    return importlib.import_module('acknowledgements.selectors')\n",
        encoding="utf-8",
    )
    assert upward_imports(tree_copy) == [
        f"accounts/views.py:{lines + 4} imports portal.navigation",
        f"accounts/views.py:{lines + 5} imports onboarding.services",
        f"accounts/views.py:{lines + 6} imports acknowledgements.selectors",
    ]
