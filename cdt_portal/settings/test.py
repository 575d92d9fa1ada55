"""Settings for pytest: fast hashing, e-mail in memory, uploads in a temporary folder."""

import tempfile

from .base import *  # noqa: F403
from .base import STORAGES, VAR_DIR

VAR_DIR.mkdir(exist_ok=True)
DEBUG = False
SECRET_KEY = "test-only-key"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = tempfile.mkdtemp(prefix="cdt-test-media-")
# Tests run without collectstatic; WhiteNoise still serves the finders' files.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
