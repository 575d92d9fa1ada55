"""gunicorn for the portal: `gunicorn -c deploy/gunicorn.conf.py cdt_portal.wsgi`.

Sized for PDF work on a small server: WeasyPrint holds a CPU while it lays out a page, so two
sync workers per two cores; long renders run in the background worker, so 60 s is a ceiling
for a stuck request, not a budget.

gunicorn reads GUNICORN_BIND, WEB_CONCURRENCY, GUNICORN_TIMEOUT, GUNICORN_LOG_LEVEL and
GUNICORN_FORWARDED_ALLOW_IPS from its own environment (the service's `Environment=`), then from
`.env`, which this file loads itself before the portal's settings are
(tests/deployment/test_gunicorn_settings.py).
"""

import os

# gunicorn puts its working directory (the project) on sys.path before it reads this file.
from cdt_portal.dotenv import load_dotenv
from cdt_portal.logs import FORMAT, IsoFormatter

# `.env` now, for the master's own log lines (TIME_ZONE); the workers read it again with the
# settings (cdt_portal/wsgi.py).
load_dotenv()

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after 20,000-22,000 requests, so that memory a long life gathers is given
# back; the jitter keeps the two from being replaced at once. Not sooner: PDFs are rendered by
# the background worker, so a web worker grows little, and a replacement costs a second of
# start-up in which that worker answers nobody. At 500, a short rush (wrk -c8, 800 requests a
# second) replaced both workers every few seconds, and /healthz's p99 rose from 6-210 ms to
# 0.95-2.9 s with windows of no answer at all (issue 24); at 20,000 a 15-second rush at that
# rate (12,000 requests, 6,000 a worker) replaces none.
max_requests = 20000
max_requests_jitter = 2000
# Heartbeat files in memory, not on a possibly slow disk (the service's private /dev keeps
# /dev/shm: deploy/systemd/cdt-portal-web.service).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# nginx sets X-Forwarded-Proto; the portal reads the client address itself (TRUSTED_PROXIES).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "cdt-portal"
# No control socket (gunicorn 25.1 and later, for `gunicornc`): `systemctl reload` and `restart`
# do that work, and its default place, ~/.gunicorn, is read-only in the service's sandbox.
# (Older gunicorn ignores the setting.)
control_socket_disable = True

# gunicorn's own lines (start, workers, requests) in the portal's shape, on stdout and stderr
# (the journal under systemd): ISO 8601 time with its offset, level, logger, message
# (cdt_portal/logs.py). The request line leaves out the time, which the prefix has; the client
# address it would show is nginx's (nginx's own access log has the client's).
accesslog = "-"
errorlog = "-"
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms'
logconfig_dict = {
    "formatters": {"iso": {"()": IsoFormatter, "format": FORMAT}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "iso",
            "stream": "ext://sys.stdout",
        },
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "iso",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
    # Replaces gunicorn's default root logger (whose handler is not defined here); the portal's
    # settings give the root logger its handler in each worker (settings.LOGGING).
    "root": {"handlers": [], "level": "WARNING"},
}
