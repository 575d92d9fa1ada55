import logging

from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from .access import login_only, public
from .models import Job
from .progress import Progress

logger = logging.getLogger(__name__)


@public
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 "ok" when the database answers; 503 otherwise (for a load balancer)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


@login_only
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    """How far a background job is, for the progress bar of the person who started it."""
    job = Job.objects.filter(pk=pk, started_by_id=request.user.pk).first()
    if job is None:
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
