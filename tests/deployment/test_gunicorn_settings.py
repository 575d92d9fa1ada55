"""gunicorn's own variables (GUNICORN_BIND, WEB_CONCURRENCY, GUNICORN_TIMEOUT) are read from
the service's environment first, then from `.env` (deploy/gunicorn.conf.py loads it for the
master's log lines): docs/deploy.md says so, and says to keep an app server's own address out
of a `.env` shared by several. The file runs here as gunicorn runs it, beside a `.env` of its
own (a copy of the two modules it imports, so the project's `.env` is never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import runpy; c = runpy.run_path('deploy/gunicorn.conf.py'); "
    "print(c['bind'], c['workers'], c['timeout'])"
)


def gunicorn_values(tmp_path: Path, dotenv: str, **environment: str) -> str:
    (tmp_path / "cdt_portal").mkdir(parents=True)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "cdt_portal" / "__init__.py").write_text("")
    for name in ("dotenv.py", "logs.py"):
        shutil.copy(ROOT / "cdt_portal" / name, tmp_path / "cdt_portal" / name)
    shutil.copy(ROOT / "deploy" / "gunicorn.conf.py", tmp_path / "deploy" / "gunicorn.conf.py")
    (tmp_path / ".env").write_text(dotenv)
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT"}
    }
    result = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(tmp_path), **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_gunicorn_takes_its_variables_from_the_environment_then_from_env(tmp_path):
    dotenv = "GUNICORN_BIND=10.0.0.11:8000\nWEB_CONCURRENCY=7\n"
    assert gunicorn_values(tmp_path / "a", dotenv) == "10.0.0.11:8000 7 60"
    assert (
        gunicorn_values(tmp_path / "b", dotenv, GUNICORN_BIND="10.0.0.12:8000")
        == "10.0.0.12:8000 7 60"
    )
    assert gunicorn_values(tmp_path / "c", "") == "127.0.0.1:8000 2 60"
