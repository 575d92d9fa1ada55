from django import template

from cdt_portal.audit import action_label as _action_label
from cdt_portal.audit import describe_data

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return _action_label(action)


@register.filter
def audit_changes(entry) -> str:
    """What changed in an audit entry, as one line a person can read (`describe_data`)."""
    return describe_data(entry)
