import json

from django import template

from cdt_portal.audit import action_label as _action_label

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return _action_label(action)


@register.filter
def audit_data(data: dict) -> str:
    """What changed, as one line a person can read: «status: draft → sent; comment: …»."""
    parts = []
    for key, value in sorted((data or {}).items()):
        if isinstance(value, list) and len(value) == 2:
            old, new = (_text(v) for v in value)
            parts.append(f"{key}: {old} → {new}")
        else:
            parts.append(f"{key}: {_text(value)}")
    return "; ".join(parts)


def _text(value) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
