"""Writing and reading the audit log, in the spirit of pretix's `log_action`.

Services call `log_action` once per change, inside their own transaction, so a change and its
entry are saved together or not at all. The client's address comes from the request that is
being served (set by `AuditContextMiddleware`); work outside a request records none.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import numbers
from .models import AuditEntry
from .net import client_ip
from .paging import contains_any_case

_client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "audit_client_address", default=None
)


class AuditContextMiddleware:
    """Makes the client's address known to `log_action` for the length of one request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client_address.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _client_address.reset(token)


def _organisation_id(obj: models.Model | None, actor: Any) -> int | None:
    if obj is not None:
        if obj._meta.label == settings.PORTAL_ORGANISATION_MODEL:
            return obj.pk
        if getattr(obj, "organisation_id", None) is not None:
            return obj.organisation_id
    return getattr(actor, "organisation_id", None)


def log_action(
    actor: Any,
    obj: models.Model | None,
    action: str,
    data: dict | None = None,
    *,
    organisation_id: int | None = None,
) -> AuditEntry:
    """Record one change: `actor` (a person, or None for the system) did `action` (dotted,
    e.g. "person.roles.changed") to `obj`, with `data` saying what changed."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    organisation_id = organisation_id or _organisation_id(obj, actor)
    numbers.changed(organisation_id)
    return AuditEntry.objects.create(
        organisation_id=organisation_id,
        actor=actor,
        actor_name=(actor.get_full_name() or actor.get_username()) if actor else "",
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        data=data or {},
        ip_address=_client_address.get(),
    )


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for each field whose value differs."""
    return {
        field: [before.get(field), value]
        for field, value in after.items()
        if before.get(field) != value
    }


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The given fields' values as plain text-friendly data, for `changes`."""
    return {field: _plain(getattr(instance, field)) for field in fields}


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def history(obj: models.Model) -> models.QuerySet[AuditEntry]:
    """Every entry about one object, oldest first: a request's timeline, a version's history."""
    return (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        )
        .select_related("actor")
        .order_by("at", "pk")
    )


# What each action is called on the audit page. Apps add theirs in their AppConfig.ready().
ACTION_LABELS: dict[str, str] = {}


def register_actions(labels: dict[str, str]) -> None:
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


# What an entry's data keys are called, and what their values mean where they are codes (a role,
# a status), where the entry's model does not say it: a field's own verbose name and choices
# come first, unless a label is registered for that model's key («registrationrequest.to»);
# these general ones serve every other key of that name. Apps add theirs in their
# AppConfig.ready(), as for the actions.
DATA_LABELS: dict[str, str] = {
    "reason": "причина",
    "email": "e-mail",
    "from": "было",
    "to": "стало",
    "fields": "поля",
    "person": "человек",
    "student": "обучающийся",
    "parent": "родитель",
    "version": "редакция",
    "job": "работа",
    "key": "ключ",
    "filename": "файл",
    "size": "размер, байт",
    "text_sha256": "контрольная сумма текста",
    "signature_terms_sha256": "контрольная сумма правил подписи",
    "comment": "комментарий",
    "attempt": "попытка",
    "was": "было",
    "silent_seconds": "без признаков жизни, с",
    "kind": "вид",
    "status": "состояние",
    "count": "число",
    "title": "название",
    "subject": "тема",
    "message": "сообщение",
    "letter": "письмо",
}
DATA_VALUES: dict[str, dict[str, str]] = {}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# A changed text is shown by its beginning: the whole of it is in the version's history.
TEXT_SHOWN = 80


# Keys whose value is a person's id, or a list of ids (a group's teachers before and after):
# shown by the person's name (`describe_entries`). A key whose value is `[id, name]` (the name
# as it was, `accounts`' guardianship entries) is shown by that name.
PEOPLE_KEYS = {"person", "student", "parent", "recorded_by", "students", "teachers",
               "audience_people"}  # fmt: skip


def register_data(labels: dict[str, str], values: dict[str, dict[str, str]] | None = None) -> None:
    DATA_LABELS.update(labels)
    DATA_VALUES.update(values or {})


def _person_ids(value) -> set[int]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {value}
    if isinstance(value, list):
        return set().union(*map(_person_ids, value))
    return set()


def describe_entries(entries: Iterable[AuditEntry], organisation_id: int) -> list[AuditEntry]:
    """The entries, each with its `description` (`describe_data`), the people their data name
    by id read by name in one query, among the organisation's own people only: an id of anyone
    else stays a number."""
    entries = list(entries)
    ids = set()
    for entry in entries:
        for key, value in (entry.data or {}).items():
            if key in PEOPLE_KEYS:
                ids |= _person_ids(value)
    people = (
        get_user_model().objects.filter(pk__in=ids, organisation_id=organisation_id) if ids else []
    )
    names = {str(person.pk): str(person) for person in people}
    for entry in entries:
        entry.description = describe_data(entry, names)
    return entries


def describe_data(entry: AuditEntry, names: dict[str, str] | None = None) -> str:
    """What changed, as one line a person reads: «роли: педагог → администратор ИКОП «Сферум»,
    педагог; срок ознакомления: — → 06.01.2027». Keys by their Russian names, codes by their
    labels, people by `names` (id → name), dates as 30.11.2023, checksums by their first
    characters; an unknown key is shown as it is."""
    model = (
        ContentType.objects.get_for_id(entry.content_type_id).model_class()
        if entry.content_type_id
        else None
    )
    name = model._meta.model_name if model is not None else ""
    parts = []
    for key, value in sorted((entry.data or {}).items()):
        field = _field(model, key)
        label = (
            DATA_LABELS.get(f"{name}.{key}") or _field_label(field) or DATA_LABELS.get(key) or key
        )
        if key in PEOPLE_KEYS and _is_named(value):
            parts.append(f"{label}: {value[1]}")
            continue
        choices = (
            ((names or {}) if key in PEOPLE_KEYS else {})
            or DATA_VALUES.get(f"{name}.{key}")
            or (
                {str(k): str(v) for k, v in field.flatchoices}
                if getattr(field, "choices", None)
                else {}
            )
            or DATA_VALUES.get(key)
            or {}
        )
        if _is_change(key, value):
            old, new = (_readable(key, v, choices) for v in value)
            parts.append(f"{label}: {old} → {new}")
        else:
            parts.append(f"{label}: {_readable(key, value, choices)}")
    return "; ".join(parts)


# Keys whose value is itself a list (not a pair of before and after), unless it is a pair of
# lists: `roles: [["teacher"], ["teacher", "admin"]]` is a change, `roles: ["director"]` is not.
LIST_VALUED = {"fields", "institutions", "refused", "audience_groups", "audience_people",
               "audience_roles", "students", "teachers", "parent", "roles"}  # fmt: skip


def _is_named(value) -> bool:
    """`[id, name]`: a person as an entry named them when it was written."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], str)
    )


def _is_change(key: str, value) -> bool:
    if not isinstance(value, list) or len(value) != 2:
        return False
    if all(isinstance(item, list) for item in value):
        return True
    return key not in LIST_VALUED


def _field(model, key: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(key)
    except FieldDoesNotExist:
        return None


def _field_label(field) -> str:
    """The field's verbose name, if its model gave one: Django's default is the field's name
    («text sha256»), not a word a person reads."""
    if field is None or not hasattr(field, "verbose_name"):
        return ""
    label = str(field.verbose_name)
    return "" if label == field.name.replace("_", " ") else label


def _readable(key: str, value, choices: dict[str, str]) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, list):
        return ", ".join(_readable(key, item, choices) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text in choices:
        return str(choices[text])
    if key.endswith("sha256"):
        return f"{text[:12]}…"
    if ISO_MOMENT.fullmatch(text[:16]) and len(text) > 16:
        moment = parse_datetime(text)
        if moment is not None:
            return f"{timezone.localtime(moment):%d.%m.%Y %H:%M}"
    if ISO_DATE.fullmatch(text):
        return f"{text[8:10]}.{text[5:7]}.{text[:4]}"
    return text if len(text) <= TEXT_SHOWN else f"{text[:TEXT_SHOWN].rstrip()}…"


def organisation_entries(
    organisation_id: int,
    *,
    actor_id: int | None = None,
    actor_name: str = "",
    content_type: ContentType | None = None,
    object_id: str = "",
    action: str = "",
    date_from=None,
    date_to=None,
) -> models.QuerySet[AuditEntry]:
    """The organisation's log, newest first, narrowed by whichever filters are given (dates
    are the organisation's local days, both ends included)."""
    entries = AuditEntry.objects.filter(organisation_id=organisation_id)
    if actor_id is not None:
        entries = entries.filter(actor_id=actor_id)
    for word in actor_name.split():
        entries = entries.filter(contains_any_case("actor_name", word))
    if content_type is not None:
        entries = entries.filter(content_type=content_type)
        if object_id:
            entries = entries.filter(object_id=object_id)
    if action:
        entries = entries.filter(action=action)
    if date_from is not None:
        entries = entries.filter(at__date__gte=date_from)
    if date_to is not None:
        entries = entries.filter(at__date__lte=date_to)
    return entries.select_related("content_type").order_by("-at", "-pk")


def person_entries(organisation_id: int, person: models.Model) -> models.QuerySet[AuditEntry]:
    """What a person did, and what was done to their record, newest first."""
    return (
        AuditEntry.objects.filter(organisation_id=organisation_id)
        .filter(
            models.Q(actor_id=person.pk)
            | models.Q(
                content_type=ContentType.objects.get_for_model(person), object_id=str(person.pk)
            )
        )
        .order_by("-at", "-pk")
    )


def actions(organisation_id: int) -> list[str]:
    """The actions the organisation's log holds, for the filter."""
    return sorted(
        AuditEntry.objects.filter(organisation_id=organisation_id)
        .values_list("action", flat=True)
        .distinct()
    )


def object_types(organisation_id: int) -> list[ContentType]:
    """The kinds of object the organisation's log mentions, for the filter."""
    ids = (
        AuditEntry.objects.filter(organisation_id=organisation_id)
        .exclude(content_type=None)
        .values_list("content_type_id", flat=True)
        .distinct()
    )
    return sorted(ContentType.objects.filter(pk__in=ids), key=lambda ct: str(ct))
