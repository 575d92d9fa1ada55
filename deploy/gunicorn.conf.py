"""gunicorn for the portal: `gunicorn -c deploy/gunicorn.conf.py cdt_portal.wsgi`.

Sized for PDF work on a small server: WeasyPrint holds a CPU while it lays out a page, so two
sync workers per two cores; long renders run in the background worker, so 60 s is a ceiling
for a stuck request, not a budget. Each worker is replaced after ~500 requests so memory that
WeasyPrint and Pango keep is given back.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = 500
max_requests_jitter = 50
# Heartbeat files in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# nginx sets X-Forwarded-Proto; the portal reads the client address itself (TRUSTED_PROXIES).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "cdt-portal"
