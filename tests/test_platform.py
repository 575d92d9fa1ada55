"""Health check, settings, static files and the Content Security Policy."""

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_says_ok_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_healthz_says_503_when_the_database_does_not_answer(client, db):
    with mock.patch(
        "cdt_portal.views.connection.cursor", side_effect=OperationalError("connection refused")
    ):
        response = client.get("/healthz")
    assert response.status_code == 503


def run_with_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    clean.update(DJANGO_SETTINGS_MODULE=module, **env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env would supply the secrets")
@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALLOWED_HOSTS": "portal.example.ru"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ],
)
def test_production_settings_refuse_to_start_without_secrets(env, missing):
    result = run_with_settings("cdt_portal.settings.production", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_settings_start_with_secrets():
    result = run_with_settings(
        "cdt_portal.settings.production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="portal.example.ru"
    )
    assert result.returncode == 0, result.stderr


def test_the_interface_speaks_russian():
    assert settings.LANGUAGE_CODE == "ru"
    assert settings.TIME_ZONE == os.environ.get("TIME_ZONE", "Europe/Moscow")


def test_bootstrap_is_served_from_the_apps_own_static_files(client, db):
    page = client.get("/").content.decode()
    for path in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        response = client.get(path)
        assert response.status_code == 200, path
    assert "/static/vendor/bootstrap/css/bootstrap.min.css" in page
    assert "/static/vendor/bootstrap/js/bootstrap.bundle.min.js" in page
    assert not re.search(r'(?:href|src)="(?:https?:)?//', page), "no CDN, no external assets"


def test_pages_carry_a_strict_content_security_policy(client, db):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy


TEMPLATE_FILES = sorted((ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_carry_no_inline_script_or_style(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\sstyle\s*=", text), 'inline style=""'
    assert not re.search(r"<style[\s>]", text), "<style> block"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"


def test_the_system_check_names_the_packages_when_pango_is_missing():
    from cdt_portal.checks import weasyprint_can_load_pango

    assert weasyprint_can_load_pango(None) == []
    real_import = __import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    with mock.patch("builtins.__import__", side_effect=no_pango):
        errors = weasyprint_can_load_pango(None)
    assert [e.id for e in errors] == ["cdt_portal.E001"]
    assert "libpango-1.0-0" in errors[0].hint
