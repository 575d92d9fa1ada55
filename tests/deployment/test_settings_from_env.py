"""`.env` chooses the settings module for manage.py and wsgi.py (cdt_portal/dotenv.py).

Each test runs manage.py (or imports cdt_portal.wsgi) in a subprocess, in a copy of the
project (its files as `git ls-files` lists them) with a `.env` of the test's own, and with an
environment that holds none of the portal's settings: so no test writes a `.env` into the
real checkout, and the path of `.env` needs no override.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = "cdt_portal.settings.production"
VENDOR_FILES = {
    "css/bootstrap.min.css",
    "css/bootstrap.min.css.map",
    "js/bootstrap.bundle.min.js",
    "js/bootstrap.bundle.min.js.map",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("project")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            (copy / name).write_bytes(source.read_bytes())
    # Without REDIS_URL the job queue is a SQLite file in var/, which a checkout lacks.
    (copy / "var").mkdir()
    return copy


@pytest.fixture
def env_file(project):
    path = project / ".env"
    yield path
    path.unlink(missing_ok=True)


def clean_environment(**extra: str) -> dict[str, str]:
    """The parent's environment without DJANGO_* (pytest-django sets the test settings) and
    without any setting of .env.example (CI sets DATABASE_URL)."""
    example = (ROOT / ".env.example").read_text()
    settings = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in settings
    }
    return {**env, **extra}


def production_env(project: Path) -> str:
    return (
        f"DJANGO_SETTINGS_MODULE={PRODUCTION}\n"
        f"SECRET_KEY={'s' * 60}\n"
        "ALLOWED_HOSTS=portal.example.ru\n"
        f"DATABASE_URL=sqlite:///{project}/var/test.sqlite3\n"
        f"STATIC_ROOT={project}/var/static\n"
        f"MEDIA_ROOT={project}/var/media\n"
    )


def manage(project: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=clean_environment(**extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


SHOW = (
    "from django.conf import settings as s; "
    "print(s.SETTINGS_MODULE, s.DEMO_ALLOWED, s.STORAGES['staticfiles']['BACKEND'], "
    "s.ALLOWED_HOSTS)"
)


def test_manage_py_takes_production_from_env(project, env_file):
    env_file.write_text(production_env(project))
    result = manage(project, "diffsettings")
    assert result.returncode == 0, result.stderr
    assert "DEMO_ALLOWED = False" in result.stdout
    assert "whitenoise.storage.CompressedManifestStaticFilesStorage" in result.stdout
    assert "REQUIRE_2FA_FOR_MANAGERS = True" in result.stdout
    shown = manage(project, "shell", "-v", "0", "-c", SHOW)
    assert shown.stdout.split()[:3] == [
        PRODUCTION,
        "False",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ], shown.stderr


def test_loaddemo_is_refused_with_production_from_env(project, env_file):
    env_file.write_text(production_env(project))
    result = manage(project, "loaddemo")
    assert result.returncode != 0
    assert "production" in result.stderr


def test_collectstatic_writes_the_manifest_and_only_the_bootstrap_the_pages_use(project, env_file):
    env_file.write_text(production_env(project))
    result = manage(project, "collectstatic", "--noinput")
    assert result.returncode == 0, result.stderr
    static = project / "var" / "static"
    assert (static / "staticfiles.json").is_file()
    vendor = static / "vendor" / "bootstrap"
    originals = {
        path.relative_to(vendor).as_posix()
        for path in vendor.rglob("*")
        if path.is_file()
        and not path.name.endswith((".gz", ".br"))
        and not re.search(r"\.[0-9a-f]{12}\.", path.name)
    }
    assert originals == VENDOR_FILES
    assert list(vendor.glob("css/bootstrap.min.*.css")), "no hashed name: not the manifest"
    # Every vendored file a template names is among them.
    named = set()
    for template in (ROOT / "templates").rglob("*.html"):
        named |= set(re.findall(r"static '(vendor/bootstrap/[^']+)'", template.read_text()))
    assert named and {name.removeprefix("vendor/bootstrap/") for name in named} <= VENDOR_FILES
    # django.contrib.admin's files stay: /admin/ is used.
    assert list((static / "admin" / "css").glob("base.*.css"))


def test_the_environment_beats_env(project, env_file):
    env_file.write_text(production_env(project))
    shown = manage(
        project,
        "shell",
        "-v",
        "0",
        "-c",
        SHOW,
        DJANGO_SETTINGS_MODULE="cdt_portal.settings.local",
        ALLOWED_HOSTS="other.example.ru",
    )
    assert shown.returncode == 0, shown.stderr
    module, demo_allowed, storage, hosts = shown.stdout.split(maxsplit=3)
    assert (module, demo_allowed) == ("cdt_portal.settings.local", "True")
    assert storage == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert hosts.strip() == "['other.example.ru']"


def test_without_a_settings_module_manage_py_is_local_and_wsgi_production(project, env_file):
    env_file.write_text(f"SECRET_KEY={'s' * 60}\nALLOWED_HOSTS=portal.example.ru\n")
    shown = manage(project, "shell", "-v", "0", "-c", SHOW)
    assert shown.stdout.split()[:2] == ["cdt_portal.settings.local", "True"], shown.stderr
    wsgi = subprocess.run(
        [sys.executable, "-c", f"import cdt_portal.wsgi; {SHOW}"],
        cwd=project,
        env=clean_environment(),
        capture_output=True,
        text=True,
    )
    assert wsgi.stdout.split()[:2] == [PRODUCTION, "False"], wsgi.stderr


def test_wsgi_reads_env_before_it_chooses(project, env_file):
    env_file.write_text(production_env(project).replace(PRODUCTION, "cdt_portal.settings.local"))
    wsgi = subprocess.run(
        [sys.executable, "-c", f"import cdt_portal.wsgi; {SHOW}"],
        cwd=project,
        env=clean_environment(),
        capture_output=True,
        text=True,
    )
    assert wsgi.stdout.split()[:2] == ["cdt_portal.settings.local", "True"], wsgi.stderr


def test_an_env_that_cannot_be_read_is_an_error(monkeypatch, tmp_path):
    from cdt_portal import dotenv

    # A folder where the file should be: it exists and cannot be read, like another user's
    # 0600 file (which root, running the tests here, could read).
    monkeypatch.setattr(dotenv, "ENV_FILE", tmp_path)
    with pytest.raises(IsADirectoryError):
        dotenv.load_dotenv()
    monkeypatch.setattr(dotenv, "ENV_FILE", tmp_path / "absent")
    dotenv.load_dotenv()  # no .env: nothing to read, no error


def test_env_is_read_in_one_place():
    readers = [
        path.relative_to(ROOT).as_posix()
        for path in [*ROOT.glob("*.py"), *ROOT.glob("cdt_portal/**/*.py")]
        if "read_env" in path.read_text()
    ]
    assert readers == ["cdt_portal/dotenv.py"]
    for path in ("manage.py", "cdt_portal/wsgi.py"):
        assert "use_settings(" in (ROOT / path).read_text()
    for path in ("cdt_portal/settings/local.py", "cdt_portal/settings/production.py"):
        assert "load_dotenv()" in (ROOT / path).read_text()
