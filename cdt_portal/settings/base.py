"""Settings shared by every environment.

Everything that differs between machines is read once, here, through django-environ.
The thin modules beside this one (local, test, production) only change defaults; local and
production first load a `.env` file if there is one, the test settings never do.
"""

from pathlib import Path

import environ
from whitenoise.compress import Compressor
from xstatic.pkg import bootstrap as xstatic_bootstrap

from cdt_portal.logs import DEFAULT_TIME_ZONE, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# No default here: local and test settings provide one, production must be given one.
SECRET_KEY = env("SECRET_KEY", default=None)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "phonenumber_field",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "huey.contrib.djhuey",
    # Bottom to top, as the layers run (see docs/architecture.md).
    "cdt_portal.apps.CdtPortalConfig",
    "accounts",
    "signin",
    "acknowledgements",
    "families",
    "onboarding",
    "departments",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cdt_portal.middleware.ContentSecurityPolicyMiddleware",
    # Outside WhiteNoise, so static files keep their long cache headers.
    "cdt_portal.middleware.PrivateCacheMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the query or the form: a NUL byte is a 400, never a 500.
    "cdt_portal.badinput.RejectBadInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "cdt_portal.audit.AuditContextMiddleware",
    "accounts.middleware.OrganisationTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    # A manager who owes a second factor sees only the code (or enrolment) page.
    "signin.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers cdt_portal.throttle.Throttled (confirm, invitation, reset, codes) with the
    # same 429 page django-axes shows on the sign-in form.
    "signin.middleware.ThrottleMiddleware",
    # A row a service was asked to change was removed meanwhile: 404 with its message.
    "cdt_portal.middleware.GoneMiddleware",
    # Last, as django-axes asks: it turns a lockout raised anywhere into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cdt_portal.urls"
WSGI_APPLICATION = "cdt_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]


def tuned(database: dict) -> dict:
    """PostgreSQL without JIT compilation: the portal's counting queries over 50,000 people
    cross `jit_above_cost` and spent longer compiling (172 ms) than running, every time.
    SQLite (the embedded default, where the web server and the worker write the same file):
    a transaction takes the write lock when it begins (IMMEDIATE), so two writers queue for it
    for up to `timeout` seconds instead of one failing at once with «database is locked» when
    it upgrades a read to a write; readers go on while a writer writes (WAL)."""
    options = database.setdefault("OPTIONS", {})
    if "postgresql" in database["ENGINE"]:
        options["options"] = "-c jit=off"
    elif "sqlite" in database["ENGINE"]:
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 20)
        options.setdefault("init_command", "PRAGMA journal_mode=WAL;")
    return database


DATABASES = {
    "default": tuned(env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# The role that owns the tables: the portal itself connects as a role that may only read and
# write rows (it can neither truncate nor unprotect the audit log), and `migrate` and `restore`
# connect as this one (docs/deploy.md, step 2; cdt_portal/databases.py).
DATABASE_OWNER = (
    tuned(env.db("DATABASE_OWNER_URL")) if env("DATABASE_OWNER_URL", default="") else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# What the core's audit log points at as "the organisation", named like AUTH_USER_MODEL so
# the core never imports the app above it.
PORTAL_ORGANISATION_MODEL = "accounts.Organisation"
# django-axes' backend first: it refuses a locked-out username and address before any
# password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский")]
TIME_ZONE = env("TIME_ZONE", default=DEFAULT_TIME_ZONE)
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "cdt_portal.vendor_static.VendorFileFinder",
]
# Bootstrap ships inside the xstatic-bootstrap wheel (no CDN: the portal works on a closed
# network). Only what templates/base.html uses, with the source maps those files name: the
# whole package made collectstatic compress 44 files for 4 (cdt_portal/vendor_static.py).
VENDOR_STATIC_FILES = {
    "vendor/bootstrap": (
        xstatic_bootstrap.BASE_DIR,
        [
            "css/bootstrap.min.css",
            "css/bootstrap.min.css.map",
            "js/bootstrap.bundle.min.js",
            "js/bootstrap.bundle.min.js.map",
        ],
    ),
}
# Source maps are read by a developer's browser tools only: copied with their hashed names,
# not compressed (a third of what collectstatic took after the list above).
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Uploaded and generated files are private: no URL pattern serves this prefix; files are
# downloaded only through views that check access. (Django wants a string here.)
MEDIA_URL = "/private-media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# E-mail: EMAIL_URL selects the backend (smtp://, smtp+tls://, filemail://, consolemail://).
# Without it, messages are written as files under var/mail/ so nothing is lost or sent by surprise.


def _email_settings(url: str) -> dict:
    """django-environ reads a filemail:// URL's folder without its leading slash and takes
    its first part for a host name (filemail:///srv/mail became srv/mail, relative to
    wherever the process started), so the folder is read here: filemail:///srv/portal/mail
    is that absolute folder, filemail://var/mail is var/mail in the project."""
    from urllib.parse import unquote, urlsplit

    default_folder = str(VAR_DIR / "mail")
    if not url:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": default_folder,
        }
    config = environ.Env.email_url_config(url)
    parts = urlsplit(url)
    if parts.scheme == "filemail":
        folder = unquote(parts.netloc + parts.path)
        if folder.startswith("/"):
            folder = "/" + folder.lstrip("/")  # filemail:////srv/mail too
        config["EMAIL_FILE_PATH"] = str(BASE_DIR / folder) if folder else default_folder
    return config


vars().update(_email_settings(env.str("EMAIL_URL", default="")))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = "[Портал ЦДТ] "

# Where the registration request goes (section 4 of the regulation), and the signed scan's limit.
SFERUM_REGISTRATION_EMAIL = env("SFERUM_REGISTRATION_EMAIL", default="info@sferum.ru")
SCAN_MAX_BYTES = 10 * 1024 * 1024
# How long an invitation link works.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=14)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

PHONENUMBER_DEFAULT_REGION = "RU"
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "INTERNATIONAL"

# `manage.py loaddemo` refuses to run where this is False (production).
DEMO_ALLOWED = True

# --- Background jobs (huey) ----------------------------------------------------------------

# Redis in production (shared by workers on any number of machines); without it, a SQLite
# queue file under var/ so that `make run` needs no other server.
REDIS_URL = env("REDIS_URL", default="")
JOBS_QUEUE_FILE = Path(env("JOBS_QUEUE_FILE", default=str(VAR_DIR / "jobs.sqlite3")))
if not REDIS_URL:
    # huey opens its SQLite file as the app loads, before any command could create the folder:
    # on a fresh clone (no var/ yet) `manage.py check` would fail with «unable to open database
    # file» (tests/test_platform.py::test_a_fresh_clone_without_var_starts).
    JOBS_QUEUE_FILE.parent.mkdir(parents=True, exist_ok=True)
HUEY = {
    "name": "cdt_portal",
    "huey_class": "huey.RedisHuey" if REDIS_URL else "huey.SqliteHuey",
    "immediate": False,
    "results": False,
    "connection": {"url": REDIS_URL} if REDIS_URL else {"filename": str(JOBS_QUEUE_FILE)},
    "consumer": {
        "workers": env.int("WORKER_PROCESSES", default=2),
        "worker_type": "process",
        "periodic": True,
        # Redis hands a job to a waiting worker at once; the SQLite queue is polled, and huey's
        # default backoff lets an idle worker look only every 10 s: a person who pressed
        # «Сформировать» would wait that long before anything started.
        "max_delay": 1.0,
    },
}

# The cache keeps counted numbers (`cdt_portal.numbers`), so every process must see the same
# one: Redis where the queue is (its own key prefix), otherwise files under var/cache, which the
# web processes and the worker of one machine share. Per-process memory would make each
# gunicorn worker count everything again (tests/test_platform.py::test_the_cache_is_shared).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cdt-portal-cache",
    }
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env("CACHE_DIR", default=str(VAR_DIR / "cache")),
    }
}

# A queued or running job whose heartbeat is older than this, with no task of it waiting on the
# queue, was lost (its worker killed, the queue emptied): the worker's check, at its start and
# every minute, queues it again (cdt_portal/jobs.py). A running job beats every sixth of this.
JOB_SILENCE_SECONDS = env.int("JOB_SILENCE_SECONDS", default=30)
# A job queued again this many times without finishing (it kills its worker each time) ends
# failed with the reason instead of being tried for ever.
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=5)
# A running job that beats but has not moved its progress for this long is shown as stuck.
JOB_STUCK_MINUTES = env.int("JOB_STUCK_MINUTES", default=5)

# --- Deployment: private downloads, backups ---------------------------------------------------

# Behind nginx (deploy/nginx/cdt-portal.conf), a private file is sent by nginx itself after the
# portal's permission check: the portal answers with an empty body and X-Accel-Redirect to this
# `internal` location, which maps onto MEDIA_ROOT. Off: the portal sends the bytes itself.
PRIVATE_DOWNLOADS_VIA_NGINX = env.bool("PRIVATE_DOWNLOADS_VIA_NGINX", default=False)
PRIVATE_DOWNLOADS_NGINX_LOCATION = env("PRIVATE_DOWNLOADS_NGINX_LOCATION", default="/_private/")
# `manage.py backup` and the nightly job write one archive (database + media) here and keep the
# newest BACKUP_KEEP of them. The nightly job runs at BACKUP_HOUR:BACKUP_MINUTE (TIME_ZONE).
BACKUP_DIR = env.path("BACKUP_DIR", default=str(VAR_DIR / "backups"))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
BACKUP_HOUR = env.int("BACKUP_HOUR", default=2)
BACKUP_MINUTE = env.int("BACKUP_MINUTE", default=30)
# age public keys (age1…, comma-separated): each archive is encrypted to them as it is written
# (cdt-portal-….tar.age) and only their secret keys, kept off the server, can restore it.
# Empty: plain tar archives. What an archive holds and how to make a key: docs/backups.md.
BACKUP_AGE_RECIPIENT = env.list("BACKUP_AGE_RECIPIENT", default=[])
# Stored folders no archive holds: the sheets of printed invitation slips live an hour and hold
# live sign-in links (accounts.services.invitations.SLIPS_FOLDER; kept equal by
# tests/accounts/test_invitation_slips_job.py::test_a_backup_leaves_the_sheets_out).
BACKUP_MEDIA_LEFT_OUT = ("invitations/slips",)

# A letter refused with a temporary SMTP error (4xx, no connection) is tried again this many
# times inside its job, waiting this many seconds and then twice as long each time.
MAIL_SEND_RETRIES = env.int("MAIL_SEND_RETRIES", default=3)
MAIL_RETRY_DELAY = env.int("MAIL_RETRY_DELAY", default=5)

# --- Trust: sign-in, sessions, addresses ------------------------------------------------------

# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; from anyone else
# the header is ignored and the connection's own address is the client's.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Sign-in throttling (django-axes): after this many failures the same username from the same
# address waits COOLOFF minutes; other people and other addresses are not affected.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours, as axes counts
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# One address failing this often across all usernames waits too (password spraying: one
# guess at each of many usernames); high enough for a school's staff behind one address.
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
# A person's second-factor codes failing this often from all addresses together wait too.
OTP_USER_FAILURE_LIMIT = env.int("OTP_USER_FAILURE_LIMIT", default=10)
AXES_CLIENT_IP_CALLABLE = "cdt_portal.net.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The sign-in form takes a username or an e-mail in any case: all count as one person's
# failures. Keys of the other throttled forms (cdt_portal.throttle) are taken as they are.
AXES_USERNAME_CALLABLE = "signin.lockout.client_username"
# 429 with «Попробуйте снова после 14:35» in the organisation's time zone.
AXES_LOCKOUT_CALLABLE = "signin.lockout.lockout_response"
# Tries during a lockout do not extend it, so the time the page names holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Never stored with a failed attempt (axes keeps the form's fields for the record).
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "email",
    "password",
    "old_password",
    "new_password1",
    "new_password2",
    "code",
    "csrfmiddlewaretoken",
]

# Two-factor sign-in (TOTP with one-time recovery codes) for the director and administrators.
REQUIRE_2FA_FOR_MANAGERS = env.bool("REQUIRE_2FA_FOR_MANAGERS", default=False)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Портал ЦДТ")

# Sessions: signed out after this long without a request, and this long after signing in.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_MINUTES", default=30) * 60
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_MAX_HOURS", default=12) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Passwords: Argon2id first (new and re-hashed on the next sign-in); older hashes still verify.
PASSWORD_HASHERS = [
    "cdt_portal.hashers.PortalArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

# An SMTP server that does not answer within this many seconds is given up on, well before a
# gunicorn worker's own timeout (30 s) would kill the request mid-send.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# Staff import from XLSX (a zip bomb guard): the zip's declared unpacked size and compression
# ratio are checked before anything is unpacked, then the first sheet is streamed row by row
# with row, column and time limits. 20 000 rows of six columns unpack to 9 MB at a ratio of 17.
IMPORT_MAX_UNPACKED_BYTES = env.int("IMPORT_MAX_UNPACKED_MB", default=10) * 1024 * 1024
IMPORT_MAX_COMPRESSION_RATIO = env.int("IMPORT_MAX_COMPRESSION_RATIO", default=100)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=20_000)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=50)
IMPORT_MAX_SECONDS = env.int("IMPORT_MAX_SECONDS", default=5)

# One line per event, ISO 8601 time with the offset, level and logger name, written once
# (cdt_portal/logs.py); a queue that is down logs one line a minute, not a traceback a second.
LOGGING = logging_config(env("LOG_LEVEL", default="INFO"))

# Scheduled reminders with a deadline (cdt_portal/reminder_schedule.py): one when asked (a
# version approved, a due date set), REMINDER_DAYS_BEFORE days before the due date, on it, then
# every REMINDER_REPEAT_DAYS days until done; never more than REMINDER_MAX to one person.
REMINDER_DAYS_BEFORE = env.int("REMINDER_DAYS_BEFORE", default=3)
REMINDER_REPEAT_DAYS = env.int("REMINDER_REPEAT_DAYS", default=7)
REMINDER_MAX = env.int("REMINDER_MAX", default=5)

# A consent's identity and address data are erased this many days after it was withdrawn or the
# student's studies ended (their account switched off): 152-ФЗ ст. 21 ч. 5 gives the operator 30
# days at most (families.E001 refuses more), and the privacy policy
# (templates/accounts/privacy.html) and the consent's text say so. The nightly job
# `families.tasks.erase_consent_data` does it on the last night before the period ends
# (tests/families/test_student_consent_and_retention.py).
CONSENT_RETENTION_DAYS = env.int("CONSENT_RETENTION_DAYS", default=30)
# Who receives the families' data through Sferum: the platform operator's name and address as
# its user agreement gives them (152-ФЗ ст. 9 ч. 4 asks a consent to say to whom data go). The
# portal has no official source for them, so the deployment fills them in; the consent texts
# name them when set, and the managers' consent page says they are missing when not
# (tests/families/test_sferum_operator.py).
SFERUM_OPERATOR = env("SFERUM_OPERATOR", default="").strip()

# The online questionnaire the registration request needs (section 4.5 of the regulation); the
# request page links to it and asks the administrator to check that the link is still current.
SFERUM_QUESTIONNAIRE_URL = env("SFERUM_QUESTIONNAIRE_URL", default="https://vk.cc/cnEOTn")
# The portal's address for links in letters sent by scheduled jobs (no request to take it from).
PORTAL_URL = env("PORTAL_URL", default="http://127.0.0.1:8000/")
