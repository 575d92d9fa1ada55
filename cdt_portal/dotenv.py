"""The project's `.env`, read once, before anything chooses the settings.

`manage.py`, `cdt_portal/wsgi.py` (gunicorn) and the local and production settings all call
`load_dotenv()`, so a command typed as docs/deploy.md shows it acts with the settings module
that `.env` names (`DJANGO_SETTINGS_MODULE=cdt_portal.settings.production`): before this,
manage.py chose the local settings before the settings read `.env`, and `collectstatic`,
`loaddemo`'s guard and the backups ran with the wrong ones. Variables already in the
environment win over the file. The test settings never read it.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

# The project root: where manage.py and .env.example are.
ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def load_dotenv() -> None:
    """Put `.env`'s variables into os.environ, except those already set there.

    A `.env` that exists but cannot be read (another user's 0600 file) raises PermissionError
    instead of being skipped: skipped, the portal would quietly run with the local settings
    against nothing. django-environ alone logs that case at INFO and goes on."""
    try:
        stream = ENV_FILE.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with stream:
        environ.Env.read_env(stream)


def use_settings(default: str) -> None:
    """`.env` first, then `default` as the settings module unless the environment or `.env`
    names one."""
    load_dotenv()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
