"""Health check, settings, static files and the Content Security Policy."""

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_fresh_clone_without_var_starts(tmp_path):
    # A fresh clone has no var/: the SQLite job queue's folder must be made as the app loads.
    queue = tmp_path / "not-yet" / "jobs.sqlite3"
    result = run_with_settings(
        "cdt_portal.settings.production",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="portal.example.ru",
        REDIS_URL="",
        JOBS_QUEUE_FILE=str(queue),
    )
    assert result.returncode == 0, result.stderr
    assert queue.exists()


@pytest.mark.parametrize(
    ("redis", "backend"),
    [
        ("redis://127.0.0.1:6379/3", "django.core.cache.backends.redis.RedisCache"),
        ("", "django.core.cache.backends.filebased.FileBasedCache"),
    ],
)
def test_the_cache_is_shared(tmp_path, redis, backend):
    """Counted numbers are kept in a cache every process sees (the web workers, the worker):
    Redis where the queue is, otherwise files, never one process's memory."""
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    env.update(
        DJANGO_SETTINGS_MODULE="cdt_portal.settings.production",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="portal.example.ru",
        REDIS_URL=redis,
        JOBS_QUEUE_FILE=str(tmp_path / "jobs.sqlite3"),
        CACHE_DIR=str(tmp_path / "cache"),
    )
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "c = settings.CACHES['default']; print(c['BACKEND'], c['LOCATION'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [backend, redis or str(tmp_path / "cache")]


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


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/accounts/login/?next=/admin/"])
def test_the_admin_has_a_policy_too_inline_styles_alone_allowed(client, superuser, path):
    client.force_login(superuser)
    policy = client.get(path)["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy
    inline_styles = "style-src 'self' 'unsafe-inline'" in policy
    assert inline_styles is path.startswith("/admin/")


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


# --- Trust: production settings pass Django's deployment check; passwords use Argon2id ------


def deploy_check(**env: str) -> subprocess.CompletedProcess:
    import secrets

    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
        and not k.startswith(("SECURE_", "SESSION_COOKIE", "CSRF_COOKIE"))
    }
    clean.update(
        DJANGO_SETTINGS_MODULE="cdt_portal.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="portal.example.ru",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env would change the settings")
def test_production_settings_pass_the_deployment_check():
    result = deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env would change the settings")
def test_turning_hsts_off_is_reported_by_the_deployment_check():
    # The check is honest: it is the settings that pass it, not a silenced warning.
    result = deploy_check(SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def production_value(name: str, **env: str) -> str:
    import secrets

    result = run_settings_code(
        f"from django.conf import settings; print(repr(settings.{name}))",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="portal.example.ru",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def run_settings_code(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS"} and not k.startswith("SECURE_")
    }
    clean.update(DJANGO_SETTINGS_MODULE="cdt_portal.settings.production", **env)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env would change the settings")
def test_hsts_is_on_for_a_year_exactly_when_https_is():
    assert production_value("SECURE_HSTS_SECONDS") == str(365 * 24 * 3600)
    assert production_value("SECURE_HSTS_PRELOAD") == "False"
    assert production_value("SECURE_HSTS_SECONDS", SECURE_SSL_REDIRECT="False") == "0"


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env would change the settings")
def test_production_keeps_database_connections_and_checks_them_before_reuse():
    assert production_value("DATABASES['default']['CONN_MAX_AGE']") == "600"
    assert production_value("DATABASES['default']['CONN_HEALTH_CHECKS']") == "True"
    assert production_value("DATABASES['default']['CONN_MAX_AGE']", CONN_MAX_AGE="0") == "0"


def test_the_argon2id_parameters_are_the_measured_ones():
    from django.contrib.auth.hashers import make_password

    from cdt_portal.hashers import PortalArgon2PasswordHasher

    encoded = make_password("пароль", hasher=PortalArgon2PasswordHasher())
    assert encoded.startswith("argon2$argon2id$v=19$m=49152,t=3,p=2$")


def test_a_pbkdf2_hash_is_upgraded_to_argon2_at_the_next_sign_in(client, db):
    from django.contrib.auth.hashers import make_password
    from django.test import override_settings

    from tests.factories import UserFactory

    real_hashers = [
        "cdt_portal.hashers.PortalArgon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ]
    with override_settings(PASSWORD_HASHERS=real_hashers):
        assert settings.PASSWORD_HASHERS == real_hashers
        person = UserFactory(username="old-hash")
        person.password = make_password(
            "старый-пароль-2019", hasher="pbkdf2_sha256"
        )  # as stored before the trust issue
        person.save(update_fields=["password"])
        assert person.password.startswith("pbkdf2_sha256$")
        response = client.post(
            "/accounts/login/", {"username": "old-hash", "password": "старый-пароль-2019"}
        )
        assert response.status_code == 302
        person.refresh_from_db()
        assert person.password.startswith("argon2$argon2id$v=19$m=49152,t=3,p=2$")
