import logging

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from . import health
from .access import login_only, public
from .jobs import may_see_job
from .models import Job
from .progress import Progress

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
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "title": job.title,
            "done": job.done,
            "total": job.total,
            "percent": Progress(job.done, job.total).percent,
            "finished": job.finished,
            "result_url": job.result_url,
            "message": job.message,
        }
    )
