"""Local use on one machine: `make run`. SQLite and file-based e-mail unless told otherwise."""

from cdt_portal.dotenv import load_dotenv

# The person running the portal may keep its settings in .env (see .env.example); variables
# already in the environment win. Read before base.py reads them (manage.py and wsgi.py have
# read it already; reading it again changes nothing).
load_dotenv()


from .base import *  # noqa: E402, F403
from .base import STORAGES, VAR_DIR, env  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-only-insecure-key-do-not-use-in-production")

VAR_DIR.mkdir(exist_ok=True)

# No collectstatic on a developer's machine: WhiteNoise serves straight from the finders,
# with or without DEBUG.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
