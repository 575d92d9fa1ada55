from django import template

from cdt_portal.jobs import job_retryable

register = template.Library()


@register.filter
def retryable(job) -> bool:
    """Whether «Повторить» is offered for this job (it failed, and its task may run again)."""
    return job_retryable(job)
