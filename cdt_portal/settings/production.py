"""Production: secrets and hosts come from the environment and have no defaults."""

from django.core.exceptions import ImproperlyConfigured

from cdt_portal.dotenv import load_dotenv

# The person running the portal may keep its settings in .env (see .env.example); variables
# already in the environment win. Read before base.py reads them (manage.py and wsgi.py have
# read it already; reading it again changes nothing).
load_dotenv()


from .base import *  # noqa: E402, F403
from .base import DATABASES, STATIC_ROOT, env  # noqa: E402

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set the ALLOWED_HOSTS environment variable")

DEMO_ALLOWED = False

# Each app server keeps its database connection between requests instead of opening one per
# request (measured on PostgreSQL: /healthz 8.8 times faster, the dashboard 1.55 times), and
# checks it before reuse, so a connection that a database restart dropped is replaced rather
# than failing the request. CONN_MAX_AGE=0 closes it after each request again.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
# HSTS: once a browser has seen it, it will not speak plain HTTP to this host for the given
# time, so it is on by default exactly when HTTPS is (one year, what `check --deploy` and the
# HSTS preload list ask for). To turn it on safely on a new host, first serve HTTPS with
# SECURE_HSTS_SECONDS=300, check every page, then raise it. SECURE_HSTS_SECONDS=0 turns it off.
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if SECURE_SSL_REDIRECT else 0
)
# The header is sent by the portal's own host, so "subdomains" are the portal host's own
# (portal.cdt.example → *.portal.cdt.example), normally none: not the institution's other sites.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading puts the whole registrable domain into every browser's built-in list, for months,
# and covers the institution's other sites too: a commitment the institution makes itself
# (hstspreload.org), never a default of this software. Hence security.W021 is silenced below.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
# /healthz is called by the load balancer over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Managers sign in with a second factor in production unless told otherwise.
REQUIRE_2FA_FOR_MANAGERS = env.bool("REQUIRE_2FA_FOR_MANAGERS", default=True)

# collectstatic writes here; WhiteNoise serves it from every app server (docs/deploy.md).
STATIC_ROOT = env.path("STATIC_ROOT", default=str(STATIC_ROOT))
# Uploaded files readable by the nginx group (X-Accel-Redirect), never by other users: the
# folders are 0750 and the services run with UMask=0027 (deploy/systemd/).
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
