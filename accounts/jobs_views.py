"""«Фоновые работы»: the organisation's jobs for its director and administrators (queued,
running, failed with the reason, done), with «Повторить» where a job may be queued again as
it was. Jobs are the core's; the page is here because it knows the managers' roles."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from cdt_portal.errors import PortalError
from cdt_portal.jobs import job_retry, organisation_jobs
from cdt_portal.models import Job
from cdt_portal.paging import paginate
from cdt_portal.redirects import redirect_next

from .permissions import MANAGERS, roles_required


@roles_required(MANAGERS)
def jobs(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    listed = organisation_jobs(request.user.organisation_id, status=status)
    return render(
        request,
        "accounts/jobs.html",
        {
            **paginate(request, listed),
            "status": status if status in Job.Status.values else "",
            "statuses": Job.Status.choices,
        },
    )


@require_POST
@roles_required(MANAGERS)
def job_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = Job.objects.filter(pk=pk, organisation_id=request.user.organisation_id).first()
    if job is None:
        raise Http404("Нет такой работы")
    try:
        job_retry(job=job, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"«{job.title}» снова в очереди.")
    # Back to the page that offered «Повторить» (the jobs page, or the job's own page).
    return redirect_next(request, "jobs")
