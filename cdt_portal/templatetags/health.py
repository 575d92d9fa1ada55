from django import template

from cdt_portal import health

register = template.Library()


@register.inclusion_tag("admin/_health.html")
def portal_health() -> dict:
    """The parts of the portal that run outside requests, for the superuser's admin index:
    the database, the queue, the worker and the newest backup (a warning past 36 h)."""
    return {"checks": health.report()}
