"""Organisations, people, their roles, accounts and parents: one function per change, each
audited."""

from __future__ import annotations

import smtplib
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from cdt_portal import throttle
from cdt_portal.audit import log_action, snapshot
from cdt_portal.emails import send_templated
from cdt_portal.errors import PortalError

from ..models import (
    Guardianship,
    Organisation,
    Role,
    User,
)
from ..roles import (
    ACCOUNT_NOT_YOURS,
    CONTACTS_LOCKED,
    UNLOCK_NOT_YOURS,
    contacts_need_password,
    may_change_contacts,
    may_open_account_of,
    may_switch_account,
)
from ..selectors import throttle_keys
from ..signals import guardianship_ended
from .common import (
    CONTACT_FIELDS,
    NOTICE_NOT_SENT,
    ORGANISATION_FIELDS,
    OWN_ACCOUNT,
    PERSON_FIELDS,
    PROFILE_FIELDS,
    SHEET_ORGANISATION_FIELDS,
    SHEET_PERSON_FIELDS,
    _assign,
    _check_password,
    _check_roles,
    _full_clean,
    _held_roles,
    _locked,
    _person_label,
    _refuse,
    _Refused,
    _role_list,
    _sheets_changed,
    _store_roles,
    free_username,
    username_base,
)

NOT_A_STUDENT = "Родителя привязывают только к обучающемуся."
ADMIN_ACTIONS = {True: "admin.added", False: "admin.changed"}


def admin_saved(*, actor: User, obj: models.Model, added: bool, fields: Iterable[str]) -> None:
    """The platform's superuser added or changed `obj` in the Django admin, where no other
    service runs: the change is recorded like any other (so counted numbers are counted again,
    `cdt_portal.numbers`), and the organisation's stored sheets are looked up anew. An
    account switched off or on here is also recorded as the portal's switch records it
    (tests/families/test_erasure_after_admin_switch_off.py)."""
    if isinstance(obj, Organisation):
        organisation_id = obj.pk
    else:
        organisation_id = getattr(obj, "organisation_id", None)
    with transaction.atomic():
        _sheets_changed(organisation_id)
        log_action(
            actor,
            obj,
            ADMIN_ACTIONS[added],
            {"fields": sorted(fields)},
            organisation_id=organisation_id,
        )
        if isinstance(obj, User) and not added and "is_active" in fields:
            # The same entry as the portal's own switch: a student's consents are erased a
            # set time after it (families' nightly erasure counts from it).
            action = "person.activated" if obj.is_active else "person.deactivated"
            log_action(actor, obj, action, organisation_id=organisation_id)


def _tell_about_contacts(person: User, actor: User, before: Mapping[str, Any], changed) -> None:
    """The person learns of a new e-mail or phone at the old address and at the new one, so a
    takeover cannot go unnoticed. Sent inside the change's transaction: if the mail server
    refuses the message, nothing is changed."""
    if not set(changed) & set(CONTACT_FIELDS):
        return
    to = list(dict.fromkeys(a for a in (before["email"], person.email) if a))
    if not to:
        return
    try:
        send_templated(
            "account_changed",
            to=to,
            context={
                "person": person,
                "actor": actor,
                "by_someone_else": actor is not None and actor.pk != person.pk,
                "email_changed": "email" in changed,
                "phone_changed": "phone" in changed,
                "old_email": before["email"],
                "new_email": person.email,
                "old_phone": before["phone"],
                "new_phone": str(person.phone or ""),
                "changed_at": timezone.now(),
            },
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise PortalError(NOTICE_NOT_SENT.format(error=exc)) from exc


# --- Organisation and own profile -------------------------------------------------------


def organisation_update(
    *, organisation: Organisation, actor: User, data: Mapping[str, Any]
) -> Organisation:
    """The organisation's details (the settings page). A change of the messenger is dated
    (`messenger_changed_at`): the dashboard then asks for a new parents' notice
    (`families.selectors.notice_predates_messenger`) and offers a new regulation draft
    (`acknowledgements.selectors.messenger_draft`)."""
    with transaction.atomic():
        locked = _locked(organisation)
        changed = _assign(locked, data, ORGANISATION_FIELDS)
        if not changed:
            return locked
        _full_clean(locked)
        fields = list(changed)
        if "messenger" in changed:
            locked.messenger_changed_at = timezone.now()
            fields.append("messenger_changed_at")
        locked.save(update_fields=fields)
        if SHEET_ORGANISATION_FIELDS & set(changed):
            _sheets_changed(locked.pk)
        log_action(actor, locked, "organisation.updated", changed)
    return locked


def profile_update(*, user: User, email: str, phone: Any, password: str = "") -> User:
    """A person's own e-mail and mobile phone, confirmed with their password (a session left
    open on a shared computer must not be enough to take the account over); the person is told
    at the old and the new address."""
    with transaction.atomic():
        locked = _locked(user)
        before = snapshot(locked, CONTACT_FIELDS)
        changed = _assign(locked, {"email": email.strip().lower(), "phone": phone}, PROFILE_FIELDS)
        if not changed:
            return locked
        _full_clean(locked, exclude=["password"])
        _check_password(locked, password)
        locked.save(update_fields=list(changed))
        log_action(user, locked, "profile.updated", changed)
        _tell_about_contacts(locked, user, before, changed)
    return locked


# --- People -------------------------------------------------------------------------------


def person_create(
    *,
    organisation: Organisation,
    actor: User,
    last_name: str,
    first_name: str,
    patronymic: str = "",
    position: str = "",
    email: str = "",
    phone: Any = "",
    roles: set[str],
) -> User:
    """A new person of the organisation, without a password until they accept an invitation.
    The actor gives only roles they may grant (`accounts.roles`)."""
    roles = set(roles)
    try:
        _check_roles(actor, None, set(), roles)
    except _Refused as refused:
        refused.data["person"] = " ".join(p for p in (last_name, first_name, patronymic) if p)
        _refuse(actor, None, refused)
    with transaction.atomic():
        user = User(
            organisation=organisation,
            username=free_username(
                username_base(last_name=last_name, first_name=first_name, patronymic=patronymic)
            ),
            last_name=last_name,
            first_name=first_name,
            patronymic=patronymic,
            position=position,
            email=email.strip().lower(),
            phone=phone,
        )
        user.set_unusable_password()
        _full_clean(user, exclude=["password"])
        user.save()
        _store_roles(user, roles)
        _sheets_changed(user.organisation_id)
        log_action(
            actor,
            user,
            "person.created",
            {
                "username": user.username,
                **snapshot(user, PERSON_FIELDS),
                "roles": _role_list(roles),
            },
        )
    return user


def person_update(
    *,
    person: User,
    actor: User,
    last_name: str,
    first_name: str,
    patronymic: str = "",
    position: str = "",
    email: str = "",
    phone: Any = "",
    roles: set[str],
    password: str = "",
) -> User:
    """A person's details and roles, together: both change, or neither.

    Roles follow `accounts.roles` (a refusal is recorded). The e-mail and phone are changed
    only by the person or by whoever stands above every role they hold (a refusal is
    recorded), a manager's with `password` (the actor's own); the person is told at the old
    and the new address."""
    roles = set(roles)
    try:
        with transaction.atomic():
            return _person_update(
                person,
                actor,
                roles,
                password,
                details={
                    "last_name": last_name,
                    "first_name": first_name,
                    "patronymic": patronymic,
                    "position": position,
                    "email": email.strip().lower(),
                    "phone": phone,
                },
            )
    except _Refused as refused:
        _refuse(actor, person, refused)
        raise  # not reached: _refuse always raises


def _person_update(
    person: User, actor: User, roles: set[str], password: str, details: dict[str, Any]
) -> User:
    locked = _locked(person)
    held = _held_roles(locked)
    _check_roles(actor, locked, held, roles)
    before = snapshot(locked, CONTACT_FIELDS)
    changed = _assign(locked, details, PERSON_FIELDS)
    contacts = [field for field in CONTACT_FIELDS if field in changed]
    if contacts and not may_change_contacts(actor, locked, held):
        raise _Refused(
            "person.contacts.refused",
            CONTACTS_LOCKED,
            {"fields": contacts, "roles": _role_list(held)},
            field=contacts[0],
        )
    if changed:
        _full_clean(locked, exclude=["password"])
    if contacts and contacts_need_password(actor, locked, held):
        _check_password(actor, password)
    if changed:
        locked.save(update_fields=list(changed))
    roles_before, roles_after = _store_roles(locked, roles)
    if roles_before != roles_after:
        changed["roles"] = [roles_before, roles_after]
    if SHEET_PERSON_FIELDS & set(changed):
        _sheets_changed(locked.organisation_id)
    if changed:
        log_action(actor, locked, "person.updated", changed)
        _tell_about_contacts(locked, actor, before, changed)
    return locked


def user_set_roles(*, user: User, roles: set[str], actor: User | None = None) -> None:
    """Make `roles` exactly the person's roles. `actor` is None when the system does it
    (the demo); a person acting follows `accounts.roles` (a refusal is recorded)."""
    roles = set(roles)
    try:
        with transaction.atomic():
            locked = _locked(user)
            if actor is not None:
                _check_roles(actor, locked, _held_roles(locked), roles)
            before, after = _store_roles(locked, roles)
            if before != after:
                _sheets_changed(locked.organisation_id)
                log_action(actor, locked, "person.roles.changed", {"roles": [before, after]})
    except _Refused as refused:
        _refuse(actor, user, refused)
    user.__dict__.pop("roles", None)
    user.session_version = locked.session_version


def person_set_active(*, person: User, actor: User, active: bool) -> User:
    """Deactivating keeps every record; the person simply cannot sign in any more."""
    if person.pk == actor.pk and not active:
        raise PortalError(OWN_ACCOUNT, field="active")
    if not may_switch_account(actor, person):
        # Security-relevant: the refused attempt stays in the log (its own transaction).
        with transaction.atomic():
            log_action(actor, person, "person.activation.refused", {"active": active})
        raise PortalError(ACCOUNT_NOT_YOURS, field="active")
    with transaction.atomic():
        locked = _locked(person)
        if locked.is_active == active:
            return locked
        locked.is_active = active
        if not active:
            # Old sessions stay dead even after the account is switched back on.
            locked.session_version += 1
        locked.save(update_fields=["is_active", "session_version"])
        _sheets_changed(locked.organisation_id)
        log_action(actor, locked, "person.activated" if active else "person.deactivated")
    return locked


def guardianship_link(*, parent: User, student: User, actor: User | None) -> Guardianship:
    """A parent (законный представитель) of a student. `actor` is None for the demo."""
    if parent.organisation_id is None or parent.organisation_id != student.organisation_id:
        raise PortalError(
            "Родитель и обучающийся должны быть из одной организации.", field="parent"
        )
    if parent.pk == student.pk:
        raise PortalError("Человек не может быть собственным родителем.", field="parent")
    # A parent linked to a teacher or the director would act for them on the family's pages
    # (a consent given in their name).
    if not student.has_role(Role.STUDENT):
        raise PortalError(NOT_A_STUDENT, field="parent")
    if not parent.has_role(Role.PARENT):
        raise PortalError("Выберите родителя из списка.", field="parent")
    with transaction.atomic():
        link, created = Guardianship.objects.get_or_create(parent=parent, student=student)
        if created:
            log_action(actor, student, "guardianship.linked", {"parent": _person_label(parent)})
    return link


def guardianship_unlink(*, student: User, parent_id: int, actor: User) -> None:
    """Remove a parent from a student; a parent who is not linked changes nothing. What the
    link carried is ended in the same transaction by the apps that keep it
    (`accounts.signals.guardianship_ended`)."""
    with transaction.atomic():
        link = (
            Guardianship.objects.select_for_update(of=("self",))
            .select_related("parent")
            .filter(student=student, parent_id=parent_id)
            .first()
        )
        if link is None:
            return
        parent = link.parent
        link.delete()
        log_action(actor, student, "guardianship.unlinked", {"parent": _person_label(parent)})
        guardianship_ended.send(sender=Guardianship, parent=parent, student=student, actor=actor)


def login_unlock(*, person: User, actor: User) -> int:
    """The director or an administrator clears the person's failed attempts (sign-in, codes,
    password reset, invitation) from every address. Returns how many counters were cleared.
    Only whoever may open the person's account (`roles.may_open_account_of`) may let them try
    again: anyone else could clear the director's lock between two batches of guesses at her
    password. A refusal is recorded (its own transaction), as a refused deactivation is."""
    if actor.organisation_id is None or actor.organisation_id != person.organisation_id:
        raise PortalError("Этот человек не из вашей организации.")
    if not may_open_account_of(actor, person):
        with transaction.atomic():
            log_action(actor, person, "person.login_unlock.refused")
        raise PortalError(UNLOCK_NOT_YOURS)
    with transaction.atomic():
        cleared = sum(throttle.reset(key) for key in throttle_keys(person))
        if not cleared:
            raise PortalError("Неудачных попыток входа нет: разблокировать нечего.")
        log_action(actor, person, "person.login_unlocked", {"attempts_cleared": cleared})
    return cleared
