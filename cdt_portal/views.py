import logging
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from . import health
from .access import login_only, public
from .jobs import job_state, may_see_job
from .models import Job
from .redirects import safe_next

logger = logging.getLogger(__name__)


@public
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """One line per part: the database, the job queue, the worker's heartbeat and the newest
    backup. 200 while the database, the queue and the worker work (an old backup is a
    warning, not a reason to take the app server out); 503 otherwise."""
    checks = health.report()
    healthy = all(check.ok for check in checks)
    body = "\n".join(check.line for check in checks) + "\n"
    return HttpResponse(body, status=200 if healthy else 503, content_type="text/plain")


@login_only
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """How far a background job is, for the progress bar: to the person who started it and
    to the organisation's managers (`register_job_viewer`)."""
    job = Job.objects.filter(pk=pk).first()
    if job is None or not may_see_job(request.user, job):
        raise Http404("Нет такой работы")
    return JsonResponse(job_state(job))


@public
def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin's sign-in is the portal's own: the same password form, throttling and
    second factor (the superuser sees every organisation's data), then back to the admin."""
    target = safe_next(request, "admin:index")
    return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': target})}")


@public
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the pages name (a PDF opened in a tab, too)."""
    return HttpResponseRedirect(static("img/favicon.svg"))
