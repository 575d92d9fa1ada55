"""docs/architecture.md, «Reads, writes, views» and «Jobs of acknowledgements»: every service
that changes something is one function with keyword-only arguments, and no services module
imports an app's `tasks.py` (which holds only the periodic tasks)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from tests.audit_observer import public_services, service_modules

KEYWORD_ONLY, VAR_KEYWORD = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD
APPS = ["accounts", "signin", "acknowledgements", "families", "onboarding", "departments", "portal"]


@pytest.mark.parametrize("app", APPS)
def test_every_service_that_writes_takes_keyword_arguments_only(app):
    declared = importlib.import_module(f"tests.{app}.test_audit").AUDITED_SERVICES
    modules = public_services(app)
    positional = {}
    for name in declared:
        function = getattr(importlib.import_module(modules[name]), name)
        parameters = inspect.signature(function).parameters.values()
        named = [p.name for p in parameters if p.kind not in (KEYWORD_ONLY, VAR_KEYWORD)]
        if named:
            positional[name] = named
    assert positional == {}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports written out from their dots."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}".replace("..", ".") for alias in node.names)
    return found


@pytest.mark.parametrize("app", APPS)
def test_no_services_module_imports_tasks(app):
    offenders = {}
    for module in service_modules(app):
        path = Path(module.__file__)
        tasks = {name for name in imported_modules(path) if name.split(".")[-1] == "tasks"}
        if tasks:
            offenders[module.__name__] = sorted(tasks)
    assert offenders == {}


def test_the_walk_sees_an_import_of_tasks(tmp_path):
    for line in ("from . import tasks", "from .tasks import x", "from ..tasks import y",
                 "import acknowledgements.tasks"):  # fmt: skip
        source = tmp_path / "services.py"
        source.write_text(line + "\n", encoding="utf-8")
        assert any(name.split(".")[-1] == "tasks" for name in imported_modules(source)), line
