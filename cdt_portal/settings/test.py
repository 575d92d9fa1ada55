"""Settings for pytest: fast hashing, e-mail in memory; each test stores its files in its own
temporary folder (the autouse `media_root` fixture in tests/conftest.py)."""

from .base import *  # noqa: F403
from .base import STORAGES, VAR_DIR, env, tuned

DEBUG = False
# SQLite in memory unless DATABASE_URL names a server: tests and `manage.py check` under these
# settings never need, nor create, a file under var/.
DATABASES = {"default": tuned(env.db("DATABASE_URL", default="sqlite://:memory:"))}
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
# Jobs run at once, in the test's own thread and transaction.
HUEY = {"name": "cdt_portal_tests", "huey_class": "huey.MemoryHuey", "immediate": True}
# Temporary SMTP errors are retried at once in tests.
MAIL_RETRY_DELAY = 0
