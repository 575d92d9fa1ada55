"""URL names run one way too, like imports (tests/test_layers.py): an app's templates and its
Python code name only URLs of their own layer or one below. A link upward is an import in
disguise: the lower app's page breaks, or changes meaning, when the higher app moves.

- A URL name's layer is the app whose URLconf defines it (`cdt_portal.urls` is the core).
- A template's layer is its folder under templates/ (templates/accounts/… is accounts;
  registration/ is signin's, Django's auth views read it; emails/ and pdf/ are the core's). The
  root templates are of two kinds: the site's frame (base.html and the error pages 403, 404
  and 500), which every page is drawn in and which may name any page, so it belongs to the top
  layer; and the shared partials (`_*.html`), which belong to the core.
- Extending the frame is not naming a URL: a page of any layer is drawn in it (the frame is
  the layout, given from above, as Django's own admin templates extend `admin/base.html`).
- Python code names a URL by a string given to `reverse`, `reverse_lazy`, `redirect`,
  `resolve_url` (or `url_name=`).

Each guard is shown to fail on a made-up upward link.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.test_layers import LAYERS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
FRAME = {"base.html", "403.html", "404.html", "500.html"}
CORE = "cdt_portal"
TOP = LAYERS[-1]
URL_TAG = re.compile(r"{%\s*url\s+['\"]([\w:-]+)['\"]")
INCLUDE_TAG = re.compile(r"{%\s*(?:include|extends)\s+['\"]([^'\"]+)['\"]")
CALLS = {"reverse", "reverse_lazy", "redirect", "resolve_url"}


def url_layers() -> dict[str, str]:
    """Every URL name of the portal and the layer whose URLconf defines it."""
    names: dict[str, str] = {}

    def walk(patterns, module: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = getattr(entry.urlconf_module, "__name__", module)
                if entry.app_name == "admin":
                    continue  # Django's admin: a library, named only by the core's admin sign-in
                walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                names[entry.name] = module.split(".")[0]

    walk(get_resolver().url_patterns, "cdt_portal.urls")
    return names


# Django's auth views read their templates from registration/; signin's views render them.
FOLDERS = {"registration": "signin"}


def template_layer(path: Path) -> str:
    relative = path.relative_to(TEMPLATES)
    if len(relative.parts) == 1:
        return TOP if relative.name in FRAME else CORE
    folder = FOLDERS.get(relative.parts[0], relative.parts[0])
    return folder if folder in LAYERS else CORE


def rank(layer: str) -> int:
    return LAYERS.index(layer)


def template_violations(text: str, layer: str, names: dict[str, str]) -> list[str]:
    found = []
    for name in URL_TAG.findall(text):
        target = names.get(name)
        if target is not None and rank(target) > rank(layer):
            found.append(f"url '{name}' ({target})")
    for included in INCLUDE_TAG.findall(text):
        if included == "base.html" or included.startswith("admin/"):
            continue  # the frame every page is drawn in; the admin's own templates
        target = template_layer(TEMPLATES / included)
        if rank(target) > rank(layer):
            found.append(f"template '{included}' ({target})")
    return found


def python_violations(source: str, layer: str, names: dict[str, str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else None
        callee = node.func.id if isinstance(node.func, ast.Name) else callee
        named = []
        if callee in CALLS and node.args and isinstance(node.args[0], ast.Constant):
            named.append(node.args[0].value)
        named += [
            k.value.value
            for k in node.keywords
            if k.arg == "url_name" and isinstance(k.value, ast.Constant)
        ]
        for name in named:
            target = names.get(name) if isinstance(name, str) else None
            if target is not None and rank(target) > rank(layer):
                found.append(f"line {node.lineno}: '{name}' ({target})")
    return found


def every_template() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.is_file() and p.suffix in {".html", ".txt"})


def every_module() -> list[tuple[Path, str]]:
    modules = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "migrations" not in path.parts:
                modules.append((path, layer))
    return modules


def test_every_url_name_has_one_layer():
    names = url_layers()
    assert set(names.values()) <= set(LAYERS)
    # Spot checks that the map is read from the URLconfs, not guessed.
    assert (names["job_status"], names["people"], names["home"]) == (CORE, "accounts", TOP)


def test_no_template_names_a_url_or_template_of_a_higher_layer():
    names = url_layers()
    upward = {}
    for path in every_template():
        found = template_violations(path.read_text(), template_layer(path), names)
        if found:
            upward[str(path.relative_to(ROOT))] = found
    assert upward == {}


def test_no_module_names_a_url_of_a_higher_layer():
    names = url_layers()
    upward = {}
    for path, layer in every_module():
        found = python_violations(path.read_text(), layer, names)
        if found:
            upward[str(path.relative_to(ROOT))] = found
    assert upward == {}


@pytest.mark.parametrize(
    "text, layer, expected",
    [
        ("{% url 'home' %}", "accounts", ["url 'home' (portal)"]),
        ('{% include "portal/x.html" %}', "families", ["template 'portal/x.html' (portal)"]),
        ("{% url 'people' %}", "onboarding", []),
        ('{% extends "base.html" %}', CORE, []),
    ],
)
def test_the_template_guard_fails_on_an_upward_link(text, layer, expected):
    assert template_violations(text, layer, url_layers()) == expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("redirect('home')", ["line 1: 'home' (portal)"]),
        ("reverse_lazy('dashboard')", ["line 1: 'dashboard' (onboarding)"]),
        ("NavItem(url_name='audit_log')", ["line 1: 'audit_log' (portal)"]),
        ("redirect('people')", []),
    ],
)
def test_the_python_guard_fails_on_an_upward_link(source, expected):
    assert python_violations(source, "accounts", url_layers()) == expected
