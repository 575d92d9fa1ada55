"""Where e-mail goes with the default settings (issue 13): files in the project's var/mail/,
as the README says, and a filemail:// URL's folder taken as written.

django-environ reads `filemail:///abs/path` without its leading slash, so the old default
wrote messages under `<project>/work/.../var/mail` (or wherever the process started). Each
check here starts Django in a subprocess, with no EMAIL_URL in its environment unless the
test gives one, so the real settings are read the way `manage.py` reads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdt_portal.settings.base import _email_settings

ROOT = Path(__file__).resolve().parents[2]
FILEBASED = "django.core.mail.backends.filebased.EmailBackend"

# Started in the subprocess: report the e-mail settings, optionally send one message, and
# list every file the sending created.
SCRIPT = """
import json, sys
import django
from django.conf import settings
django.setup()
result = {"backend": settings.EMAIL_BACKEND, "path": str(settings.EMAIL_FILE_PATH),
          "base_dir": str(settings.BASE_DIR)}
if sys.argv[1] == "send":
    from django.core.mail import send_mail
    send_mail("Проверка", "Текст письма.", "portal@example.ru", ["someone@example.ru"])
print(json.dumps(result))
"""


def start_django(settings_module: str, *, send: bool, pythonpath: Path | None = None, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "EMAIL_")) and k != "PYTHONPATH"
    }
    clean.update(DJANGO_SETTINGS_MODULE=settings_module, **env)
    clean["PYTHONPATH"] = os.pathsep.join(str(p) for p in (pythonpath, ROOT) if p)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, "send" if send else "read"],
        cwd=pythonpath or ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def relocated_project(tmp_path) -> Path:
    """The settings package copied, unchanged, into an empty project folder: its BASE_DIR
    (and so VAR_DIR) is that folder, and no .env is there, so a message sent with the
    default settings lands in a temporary var/mail/ instead of the real one."""
    project = tmp_path / "project"
    package = project / "relocated" / "settings"
    package.mkdir(parents=True)
    (project / "relocated" / "__init__.py").write_text("")
    for name in ("__init__.py", "base.py", "local.py"):
        shutil.copy(ROOT / "cdt_portal" / "settings" / name, package / name)
    return project


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env may set EMAIL_URL")
def test_local_settings_without_email_url_write_files_to_var_mail():
    result = start_django("cdt_portal.settings.local", send=False)
    assert result["backend"] == FILEBASED
    assert result["path"] == str(ROOT / "var" / "mail")
    assert result["base_dir"] == str(ROOT)


def test_send_mail_with_the_default_settings_writes_one_file_in_var_mail(relocated_project):
    result = start_django("relocated.settings.local", send=True, pythonpath=relocated_project)
    mail_dir = relocated_project / "var" / "mail"
    assert result["backend"] == FILEBASED
    assert result["path"] == str(mail_dir)
    written = files_under(relocated_project)
    assert [p.parent for p in written if p.suffix == ".log"] == [mail_dir]
    [message] = [p for p in written if p.suffix == ".log"]
    content = message.read_text()
    assert "To: someone@example.ru" in content
    assert "Subject: =?utf-8?" in content  # the Russian subject, encoded


def test_an_absolute_filemail_url_is_that_folder(tmp_path):
    folder = tmp_path / "portal mail"
    result = start_django(
        "cdt_portal.settings.local",
        send=True,
        EMAIL_URL=f"filemail://{folder}",  # three slashes: filemail:///tmp/...
    )
    assert result["backend"] == FILEBASED
    assert result["path"] == str(folder)
    assert len(files_under(folder)) == 1


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("", ROOT / "var" / "mail"),
        ("filemail:///srv/cdt-portal/mail", Path("/srv/cdt-portal/mail")),
        ("filemail:////srv/cdt-portal/mail", Path("/srv/cdt-portal/mail")),
        ("filemail:///srv/cdt%20portal/mail", Path("/srv/cdt portal/mail")),
        ("filemail://var/mail", ROOT / "var" / "mail"),
        ("filemail://var/outbox", ROOT / "var" / "outbox"),
        ("filemail://", ROOT / "var" / "mail"),
    ],
)
def test_filemail_urls_name_the_folder_as_written(url, path):
    config = _email_settings(url)
    assert config["EMAIL_BACKEND"] == FILEBASED
    assert config["EMAIL_FILE_PATH"] == str(path)


def test_other_email_urls_are_read_by_django_environ():
    config = _email_settings("smtp+tls://user:secret@smtp.example.ru:587")
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"]) == ("smtp.example.ru", 587)
    assert (config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]) == ("user", "secret")
    assert config["EMAIL_USE_TLS"] is True
    assert _email_settings("consolemail://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
