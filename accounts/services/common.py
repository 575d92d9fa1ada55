"""What the services of people, groups, invitations and imports share: usernames, locking and
assigning fields, roles and their refusals (recorded apart), the sheet's revision."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction

from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.errors import PortalError

from ..models import (
    Organisation,
    User,
    UserRole,
)
from ..roles import role_change_refusal

# The transliteration of Russian passports (ICAO Doc 9303), used for usernames only.
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o",
            "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "ie", "y", "", "e",
            "iu", "ia",
        ],
        strict=True,
    )
)  # fmt: skip

ORGANISATION_FIELDS = (
    "full_name",
    "short_name",
    "head_position",
    "head_name",
    "address",
    "email",
    "phone",
    "region",
    "time_zone",
    "messenger",
    "max_only_from",
    "registration_link",
)
PERSON_FIELDS = ("last_name", "first_name", "patronymic", "position", "email", "phone")
PROFILE_FIELDS = ("email", "phone")

CONTACT_FIELDS = ("email", "phone")
WRONG_PASSWORD = "Неверный пароль. Чтобы изменить e-mail или телефон, введите свой текущий пароль."
NOTICE_NOT_SENT = "Письмо-уведомление не отправлено ({error}): изменения не сохранены."
OWN_ACCOUNT = "Нельзя отключить собственную учётную запись."
INACTIVE_ACCOUNT = "Учётная запись отключена: сначала включите её."


# --- Usernames (compute only) ---------------------------------------------------------------


def transliterate(text: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())


def username_base(*, last_name: str, first_name: str, patronymic: str = "") -> str:
    """andriushenko.le for Андрюшенко Лидия Евгеньевна."""
    initials = "".join(transliterate(p.strip())[:1] for p in (first_name, patronymic) if p)
    base = re.sub(r"[^a-z0-9]+", "", transliterate(last_name))
    return f"{base}.{initials}" if initials else base or "user"


def free_username(base: str, taken: set[str] | None = None) -> str:
    """`base`, or `base2`, `base3`… whichever is free. With `taken` (lower-case usernames
    already in use), no query is made and the chosen name is added to it (bulk imports)."""

    def is_taken(name: str) -> bool:
        if taken is not None:
            return name.lower() in taken
        return User.objects.by_username(name).exists()

    candidate, n = base, 1
    while is_taken(candidate):
        n += 1
        candidate = f"{base}{n}"
    if taken is not None:
        taken.add(candidate.lower())
    return candidate


# --- Shared steps -------------------------------------------------------------------------


def _locked(instance: models.Model) -> Any:
    """The row as the database has it, locked: a bound ModelForm has already copied its input
    onto `instance`, so "before" must be read afresh."""
    return instance._meta.model._default_manager.select_for_update().get(pk=instance.pk)


def _full_clean(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Model validation as a refusal: the first message, on its field."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise PortalError(messages[0], field=None if field == NON_FIELD_ERRORS else field) from exc


def _assign(instance: models.Model, values: Mapping[str, Any], fields: Iterable[str]) -> dict:
    """Set `values` on `instance`; {"field": [old, new]} for what really changed."""
    fields = tuple(fields)
    unknown = set(values) - set(fields)
    if unknown:
        raise TypeError(f"Not editable here: {sorted(unknown)}")
    before = snapshot(instance, fields)
    for field, value in values.items():
        setattr(instance, field, value)
    return changes(before, snapshot(instance, fields))


def _role_list(roles: Iterable[str]) -> list[str]:
    return sorted(str(role) for role in roles)


def _person_label(person: User) -> list[Any]:
    return [person.pk, person.full_name]


def _held_roles(user: User) -> set[str]:
    return set(UserRole.objects.filter(user=user).values_list("role", flat=True))


def _store_roles(user: User, roles: set[str]) -> tuple[list[str], list[str]]:
    """Make `roles` exactly the person's roles; (before, after), both sorted. A role taken away
    ends every session the person has (they sign in again with what they have left)."""
    before = _held_roles(user)
    UserRole.objects.filter(user=user).exclude(role__in=roles).delete()
    UserRole.objects.bulk_create([UserRole(user=user, role=r) for r in set(roles) - before])
    user.__dict__.pop("roles", None)
    if before - set(roles):
        _end_sessions(user)
    return _role_list(before), _role_list(roles)


# What an acknowledgement sheet prints of the organisation and of a person.
SHEET_ORGANISATION_FIELDS = frozenset({"full_name", "short_name", "time_zone"})
SHEET_PERSON_FIELDS = frozenset({"last_name", "first_name", "patronymic", "position", "roles"})


def _sheets_changed(organisation_id: int | None) -> None:
    """Something the organisation's acknowledgement sheets print changed (in the caller's
    transaction): their stored sheets are looked up under a new key
    (acknowledgements.sheet.sheet_lookup)."""
    if organisation_id is not None:
        Organisation.objects.filter(pk=organisation_id).update(
            people_revision=models.F("people_revision") + 1
        )


def _end_sessions(user: User) -> None:
    """Every session of the person stops working: the version is part of the session hash
    (`User._get_session_auth_hash`)."""
    User.objects.filter(pk=user.pk).update(session_version=models.F("session_version") + 1)
    user.refresh_from_db(fields=["session_version"])


class _Refused(Exception):
    """Leaves the change's transaction (rolling it back) so the refusal is recorded apart:
    a refusal that guards an account (roles, contacts) stays in the log."""

    def __init__(self, action: str, message: str, data: dict, field: str | None = None) -> None:
        super().__init__(message)
        self.action, self.message, self.data, self.field = action, message, data, field


def _check_roles(actor: User, person: User | None, before: set[str], after: set[str]) -> None:
    """`person`: None for a new one."""
    refusal = role_change_refusal(actor, person, before, after)
    if refusal is not None:
        message, at_stake = refusal
        raise _Refused(
            "person.roles.refused",
            message,
            {"roles": [_role_list(before), _role_list(after)], "refused": at_stake},
            field="roles",
        )


def _refuse(actor: User, obj: models.Model | None, refused: _Refused) -> None:
    """A refused change is recorded in a transaction of its own, so the entry stays although
    the change itself is not made; then the refusal is raised."""
    with transaction.atomic():
        log_action(actor, obj, refused.action, refused.data)
    raise PortalError(refused.message, field=refused.field) from refused


def _check_password(actor: User, password: str) -> None:
    if not password or not actor.check_password(password):
        raise PortalError(WRONG_PASSWORD, field="password")
