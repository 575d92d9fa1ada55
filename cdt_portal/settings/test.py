"""Settings for pytest: fast hashing, e-mail in memory; each test stores its files in its own
temporary folder (the autouse `media_root` fixture in tests/conftest.py)."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import STORAGES, VAR_DIR, env, tuned

DEBUG = False
# SQLite unless DATABASE_URL names a server. Its test database is a file in the system's
# temporary folder (one per test process, removed when the run ends), not a shared in-memory
# database: the browser tests' server and the worker's threads write it at the same time as
# the embedded deployment's do, and a file in WAL mode makes a writer wait for the lock
# (`tuned`'s timeout) where shared memory fails at once with «database table is locked».
# Tests and `manage.py check` under these settings never need, nor create, a file under var/.
DATABASES = {"default": tuned(env.db("DATABASE_URL", default="sqlite://:memory:"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"cdt-portal-tests-{os.getpid()}.sqlite3")
    }
SECRET_KEY = "test-only-key"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Replaced per test by the `media_root` fixture; nothing is written here.
MEDIA_ROOT = str(VAR_DIR / "test-media")
# Tests run without collectstatic; WhiteNoise still serves the finders' files.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Each test process keeps its counted numbers in memory (the autouse
# `empty_cache` in tests/conftest.py empties it before each test).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Jobs run at once, in the test's own thread and transaction.
HUEY = {"name": "cdt_portal_tests", "huey_class": "huey.MemoryHuey", "immediate": True}
# Temporary SMTP errors are retried at once in tests.
MAIL_RETRY_DELAY = 0
