"""Production: secrets and hosts come from the environment and have no defaults."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

# The person running the portal may keep its settings in .env (see .env.example); variables
# already in the environment win. Read before base.py reads them.
environ.Env.read_env(Path(__file__).resolve().parents[2] / ".env")


from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set the ALLOWED_HOSTS environment variable")

DEMO_ALLOWED = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
# /healthz is called by the load balancer over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Managers sign in with a second factor in production unless told otherwise.
REQUIRE_2FA_FOR_MANAGERS = env.bool("REQUIRE_2FA_FOR_MANAGERS", default=True)
