"""Every change to organisations, people, roles, groups, invitations and staff imports.

One function per change, keyword-only. Each runs in one transaction, refuses with a
`PortalError` whose message is shown as it is, and writes exactly one audit entry inside that
transaction, so the change and its record are saved together or not at all. A call that would
change nothing writes nothing (loading the demo twice leaves the log as once did).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import smtplib
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from cdt_portal import throttle
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.emails import build_templated, send_templated
from cdt_portal.errors import PortalError
from cdt_portal.jobs import ThrottledProgress, job_progress, start_job
from cdt_portal.models import Job

from . import tasks
from .invitations import LINK_USED, IssuedInvitation, invitation_url
from .mailing import SENT as mailing_sent
from .mailing import UNKNOWN as mailing_unknown
from .mailing import Mailer
from .models import (
    Guardianship,
    ImportBatch,
    Invitation,
    InvitationDelivery,
    InvitationMailing,
    Organisation,
    Role,
    StudyGroup,
    User,
    UserRole,
)
from .roles import (
    ACCOUNT_NOT_YOURS,
    CONTACTS_LOCKED,
    contacts_need_password,
    is_manager,
    may_change_contacts,
    may_open_account_of,
    may_switch_account,
    out_of_reach_message,
    role_change_refusal,
)
from .selectors import throttle_keys, unsent_deliveries
from .staff_import import ImportRow, preview_staff_import, stored_preview

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

# Roles a staff list may bring in, with the words the upload page uses for them.
IMPORT_ROLES = [
    (Role.TEACHER, "педагоги"),
    (Role.STUDENT, "обучающиеся"),
    (Role.PARENT, "родители"),
]
IMPORT_MAX_BYTES = 5 * 1024 * 1024

CONTACT_FIELDS = ("email", "phone")
WRONG_PASSWORD = "Неверный пароль. Чтобы изменить e-mail или телефон, введите свой текущий пароль."
NOTICE_NOT_SENT = "Письмо-уведомление не отправлено ({error}): изменения не сохранены."
OWN_ACCOUNT = "Нельзя отключить собственную учётную запись."
INACTIVE_ACCOUNT = "Учётная запись отключена: сначала включите её."
BATCH_DONE = "Этот список уже загружен или отменён."


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
        return User.objects.filter(username__iexact=name).exists()

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
    (acknowledgements.documents.sheet_lookup)."""
    if organisation_id is not None:
        Organisation.objects.filter(pk=organisation_id).update(
            people_revision=models.F("people_revision") + 1
        )


ADMIN_ACTIONS = {True: "admin.added", False: "admin.changed"}


def admin_saved(*, actor: User, obj: models.Model, added: bool, fields: Iterable[str]) -> None:
    """The platform's superuser added or changed `obj` in the Django admin, where no other
    service runs: the change is recorded like any other (so counted numbers are counted again,
    `cdt_portal.numbers`), and the organisation's stored sheets are looked up anew."""
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


def _check_roles(actor: User, person_pk: int | None, before: set[str], after: set[str]) -> None:
    refusal = role_change_refusal(actor, person_pk, before, after)
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
    (`messenger_changed_at`): the dashboard then asks for a new parents' notice and offers a
    new regulation draft (onboarding's `messenger_paperwork`)."""
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
    _check_roles(actor, locked.pk, held, roles)
    before = snapshot(locked, CONTACT_FIELDS)
    changed = _assign(locked, details, PERSON_FIELDS)
    contacts = [field for field in CONTACT_FIELDS if field in changed]
    if contacts and not may_change_contacts(actor, locked.pk, held):
        raise _Refused(
            "person.contacts.refused",
            CONTACTS_LOCKED,
            {"fields": contacts, "roles": _role_list(held)},
            field=contacts[0],
        )
    if changed:
        _full_clean(locked, exclude=["password"])
    if contacts and contacts_need_password(actor, locked.pk, held):
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
                _check_roles(actor, locked.pk, _held_roles(locked), roles)
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
    with transaction.atomic():
        link, created = Guardianship.objects.get_or_create(parent=parent, student=student)
        if created:
            log_action(actor, student, "guardianship.linked", {"parent": _person_label(parent)})
    return link


def guardianship_unlink(*, student: User, parent_id: int, actor: User) -> None:
    """Remove a parent from a student; a parent who is not linked changes nothing."""
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


# --- Groups -------------------------------------------------------------------------------


def _ids(people: Iterable[User]) -> list[int]:
    return sorted(person.pk for person in people)


GROUP_LINK_FIELDS = ("chat_invite_link", "max_invite_link")


def group_create(
    *,
    organisation: Organisation,
    actor: User,
    name: str,
    teachers: Iterable[User] = (),
    students: Iterable[User] = (),
    chat_invite_link: str = "",
    max_invite_link: str = "",
) -> StudyGroup:
    teachers, students = list(teachers), list(students)
    with transaction.atomic():
        group = StudyGroup(
            organisation=organisation,
            name=name,
            chat_invite_link=chat_invite_link,
            max_invite_link=max_invite_link,
        )
        _full_clean(group)
        group.save()
        group.teachers.set(teachers)
        group.students.set(students)
        log_action(
            actor,
            group,
            "group.created",
            {
                "name": name,
                "teachers": _ids(teachers),
                "students": _ids(students),
                "chat_invite_link": chat_invite_link,
                **({"max_invite_link": max_invite_link} if max_invite_link else {}),
            },
        )
    return group


def group_update(
    *,
    group: StudyGroup,
    actor: User,
    name: str,
    teachers: Iterable[User],
    students: Iterable[User],
    chat_invite_link: str = "",
    max_invite_link: str | None = None,
) -> StudyGroup:
    """Everything about a group (the administrator). `max_invite_link=None` leaves the MAX
    link as it is."""
    teachers, students = list(teachers), list(students)
    values = {"name": name, "chat_invite_link": chat_invite_link}
    if max_invite_link is not None:
        values["max_invite_link"] = max_invite_link
    with transaction.atomic():
        locked = _locked(group)
        changed = _assign(locked, values, ("name", *GROUP_LINK_FIELDS))
        if changed:
            _full_clean(locked)
            locked.save(update_fields=list(changed))
        for field, people in (("teachers", teachers), ("students", students)):
            members = getattr(locked, field)
            before = _ids(members.all())
            if before != _ids(people):
                members.set(people)
                changed[field] = [before, _ids(people)]
        if changed:
            log_action(actor, locked, "group.updated", changed)
    return locked


def group_set_link(
    *, group: StudyGroup, actor: User, chat_invite_link: str, max_invite_link: str | None = None
) -> StudyGroup:
    """A teacher keeps their own group's chat invite links (the Sferum one and, for the move
    to MAX, the MAX one; `None` leaves the MAX link as it is)."""
    values = {"chat_invite_link": chat_invite_link}
    if max_invite_link is not None:
        values["max_invite_link"] = max_invite_link
    with transaction.atomic():
        locked = _locked(group)
        changed = _assign(locked, values, GROUP_LINK_FIELDS)
        if changed:
            _full_clean(locked)
            locked.save(update_fields=list(changed))
            log_action(actor, locked, "group.link_changed", changed)
    return locked


# --- Invitations --------------------------------------------------------------------------


def _require_reach(actor: User, people: Iterable[User]) -> None:
    """An invitation (or a printed slip) puts a password on the account: refused, and the
    refusal recorded, for anyone the actor does not stand above (`roles.may_open_account_of`)."""
    for person in people:
        if not may_open_account_of(actor, person):
            _refuse(
                actor,
                person,
                _Refused(
                    "invitation.refused",
                    out_of_reach_message(person),
                    {"roles": _role_list(person.roles)},
                ),
            )


def _new_invitation(*, user: User, actor: User | None, emailed_to: str) -> Invitation:
    """Record a new invitation (any older link of the person stops working) and its entry,
    inside the caller's transaction."""
    invitation = Invitation.objects.create(
        user=user,
        created_by=actor,
        expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS),
        emailed_to=emailed_to,
    )
    log_action(
        actor, user, "invitation.issued", {"invitation": invitation.pk, "emailed_to": emailed_to}
    )
    return invitation


def invitation_issue(
    *, user: User, actor: User, base_url: str, send_email: bool = True
) -> IssuedInvitation:
    """A new invitation for the person; any older link of theirs stops working.

    With `send_email` the e-mail goes out inside the transaction: if the mail server refuses
    it, no invitation is recorded and the person's previous link keeps working. The pages send
    invitations by e-mail through `invitations_email_start` (a job); this one is for the
    printed slips and for people without an e-mail.
    """
    if not user.is_active:
        raise PortalError(INACTIVE_ACCOUNT)
    _require_reach(actor, [user])
    emailed_to = user.email if send_email else ""
    with transaction.atomic():
        invitation = _new_invitation(user=user, actor=actor, emailed_to=emailed_to)
        url = invitation_url(invitation, base_url)
        if emailed_to:
            try:
                send_templated(
                    "invitation",
                    to=[emailed_to],
                    context={"person": user, "url": url, "invitation": invitation},
                )
            except (smtplib.SMTPException, OSError) as exc:
                raise PortalError(
                    f"Письмо не отправлено: {exc}. Распечатайте приглашение."
                ) from exc
    return IssuedInvitation(invitation, url, bool(emailed_to))


def invitations_for_print(
    *, actor: User, people: Iterable[User], base_url: str
) -> list[IssuedInvitation]:
    """New invitations for printed slips: refused as a whole (and the refusal recorded) if
    anyone chosen is out of the actor's reach; otherwise one invitation, and one entry, each."""
    people = list(people)
    _require_reach(actor, people)
    return [
        invitation_issue(user=person, actor=actor, base_url=base_url, send_email=False)
        for person in people
    ]


# --- Invitations by e-mail: a job -----------------------------------------------------------

NOBODY_TO_EMAIL = "Отметьте людей с e-mail, которые ещё не выбрали пароль."
# A second press while the first mailing is going, or this soon after it, finds that mailing.
MAILING_DOUBLE_PRESS_SECONDS = 30
INTERRUPTED = (
    "работа прервалась, пока письмо передавалось почтовому серверу: неизвестно, ушло ли оно. "
    "Спросите человека или пригласите его заново"
)
Delivery = InvitationDelivery.Status


def _mailing_hash(organisation: Organisation, people: list[User], scope: str) -> str:
    ids = ",".join(str(pk) for pk in sorted(p.pk for p in people))
    return hashlib.sha256(f"{organisation.pk}|{scope}|{ids}".encode()).hexdigest()


def _open_mailing_job(people_hash: str) -> Job | None:
    """The job of a mailing of the same people that is still going or was just started."""
    recent = timezone.now() - dt.timedelta(seconds=MAILING_DOUBLE_PRESS_SECONDS)
    for mailing in InvitationMailing.objects.filter(people_hash=people_hash).order_by("-pk")[:1]:
        job = Job.objects.filter(key=mailing.key).first()
        if job is not None and (not job.finished or mailing.created_at >= recent):
            return job
    return None


def _start_mailing(
    *, organisation: Organisation, people: list[User], actor: User, base_url: str, scope: str
) -> Job:
    if len(people) == 1 and not people[0].is_active:
        raise PortalError(INACTIVE_ACCOUNT)
    people = [p for p in people if p.is_active and p.email]
    if not people:
        raise PortalError(NOBODY_TO_EMAIL)
    _require_reach(actor, people)
    people_hash = _mailing_hash(organisation, people, scope)
    with transaction.atomic():
        # One press at a time per organisation: the look for an open mailing and the count of
        # earlier ones must see the same rows (two presses between them sent every letter
        # twice, tests/jobs/test_stress.py).
        Organisation.objects.select_for_update().only("pk").get(pk=organisation.pk)
        job = _open_mailing_job(people_hash)
        if job is not None:
            return job
        generation = InvitationMailing.objects.filter(people_hash=people_hash).count() + 1
        key = f"invitations:{people_hash[:40]}:{generation}"
        try:
            with transaction.atomic():
                mailing = InvitationMailing.objects.create(
                    organisation=organisation,
                    created_by=actor,
                    key=key,
                    people_hash=people_hash,
                    base_url=base_url[:300],
                )
        except IntegrityError:
            # The other press created it a moment ago: its job is the answer.
            return Job.objects.get(key=key)
        InvitationDelivery.objects.bulk_create(
            [InvitationDelivery(mailing=mailing, person=p, email=p.email) for p in people]
        )
        log_action(
            actor,
            mailing,
            "invitation.mailing.started",
            {"people": len(people), "retry": scope or ""},
        )
        title = (
            f"Приглашение на {people[0].email}"
            if len(people) == 1
            else f"Приглашения по e-mail: {len(people)}"
        )
        return start_job(
            task=tasks.send_invitations,
            key=key,
            kind="invitations",
            title=title,
            organisation_id=organisation.pk,
            actor=actor,
            args=(mailing.pk,),
            total=len(people),
        )


def invitations_email_start(
    *, organisation: Organisation, people: Iterable[User], actor: User, base_url: str
) -> Job:
    """Send invitations by e-mail to these people in a background job (one letter each, each
    result recorded). Pressed twice, the same job. Queue down: `PortalError`, nothing started."""
    return _start_mailing(
        organisation=organisation, people=list(people), actor=actor, base_url=base_url, scope=""
    )


def invitation_mailing_retry(*, mailing: InvitationMailing, actor: User) -> Job:
    """Send again, in a new job, to the people of a mailing whose letter was not sent (the
    server refused it or was down) or whose sending was not confirmed (the administrator's
    choice: such a letter may have arrived)."""
    people = [d.person for d in unsent_deliveries(mailing)]
    if not people:
        raise PortalError("Повторять нечего: все письма этой рассылки отправлены.")
    return _start_mailing(
        organisation=mailing.organisation,
        people=people,
        actor=actor,
        base_url=mailing.base_url,
        scope=f"retry-of-{mailing.pk}",
    )


def _claim(delivery_pk: int, mailing: InvitationMailing) -> tuple[InvitationDelivery, str] | None:
    """Commit `sending` (with a new invitation) before the letter goes, or settle a row a
    previous run left: `sending` means it was in flight when that run stopped."""
    with transaction.atomic():
        delivery = (
            InvitationDelivery.objects.select_for_update(of=("self",))
            .select_related("person")
            .get(pk=delivery_pk)
        )
        if delivery.status == Delivery.SENDING:
            _settle(delivery, mailing, Delivery.UNCONFIRMED, INTERRUPTED)
            return None
        if delivery.status != Delivery.PENDING:
            return None
        person = delivery.person
        if not person.is_active:
            _settle(delivery, mailing, Delivery.FAILED, "учётная запись отключена")
            return None
        if not may_open_account_of(mailing.created_by, person):
            # A role given since the mailing started puts the account out of its sender's reach.
            _settle(delivery, mailing, Delivery.FAILED, out_of_reach_message(person))
            return None
        invitation = _new_invitation(
            user=person, actor=mailing.created_by, emailed_to=delivery.email
        )
        delivery.status = Delivery.SENDING
        delivery.invitation = invitation
        delivery.updated_at = timezone.now()
        delivery.save(update_fields=["status", "invitation", "updated_at"])
    return delivery, invitation_url(invitation, mailing.base_url)


SETTLED_ACTIONS = {
    Delivery.SENT: "invitation.emailed",
    Delivery.FAILED: "invitation.email_failed",
    Delivery.UNCONFIRMED: "invitation.email_unconfirmed",
}


def _settle(
    delivery: InvitationDelivery,
    mailing: InvitationMailing,
    status: str,
    reason: str = "",
    attempts: int | None = None,
) -> None:
    delivery.status = status
    delivery.reason = reason[:2000]
    delivery.updated_at = timezone.now()
    fields = ["status", "reason", "updated_at"]
    if attempts is not None:
        delivery.attempts = attempts
        fields.append("attempts")
    delivery.save(update_fields=fields)
    log_action(
        mailing.created_by,
        delivery.person,
        SETTLED_ACTIONS[status],
        {"mailing": mailing.pk, "email": delivery.email, "reason": delivery.reason},
        organisation_id=mailing.organisation_id,
    )


def invitation_mailing_run(*, job_id: int, mailing_id: int) -> str:
    """The job's work: each person's letter in turn, each result committed on its own, so the
    job can stop anywhere and run again without sending anything twice."""
    mailing = InvitationMailing.objects.select_related("organisation", "created_by").get(
        pk=mailing_id
    )
    pks = list(mailing.deliveries.order_by("pk").values_list("pk", flat=True))
    progress = ThrottledProgress(job_id, len(pks))
    with Mailer() as mailer:  # one SMTP connection for the whole mailing
        for number, pk in enumerate(pks, start=1):
            _invitation_send(mailing, pk, mailer)
            progress(number)
    progress(len(pks), final=True)
    return ""


def _invitation_send(mailing: InvitationMailing, pk: int, mailer: Mailer) -> None:
    """One person's invitation: claimed (committed `sending`) before the SMTP call, settled
    after it."""
    claimed = _claim(pk, mailing)
    if claimed is None:
        return
    delivery, url = claimed
    message = build_templated(
        "invitation",
        to=[delivery.email],
        context={"person": delivery.person, "url": url, "invitation": delivery.invitation},
    )
    result = mailer.send(message)
    status = {
        mailing_sent: Delivery.SENT,
        mailing_unknown: Delivery.UNCONFIRMED,
    }.get(result.outcome, Delivery.FAILED)
    with transaction.atomic():
        locked = (
            InvitationDelivery.objects.select_for_update(of=("self",))
            .select_related("person")
            .get(pk=pk)
        )
        if locked.status == Delivery.SENDING:
            if status == Delivery.FAILED and locked.invitation_id:
                # Certainly not sent: the new link reached nobody, so it is dropped and the
                # person's previous link (if any) works again.
                Invitation.objects.filter(pk=locked.invitation_id, used_at=None).delete()
                locked.invitation = None
            _settle(locked, mailing, status, result.error, result.attempts)


# --- A manager proves the mailbox before an invitation opens the account ------------------

CODE_MINUTES = 30
CODE_NEEDS_EMAIL = (
    "Руководитель и администратор подтверждают приглашение кодом из письма, а у вашей учётной "
    "записи нет e-mail. Попросите того, кто вас пригласил, указать его и прислать новое "
    "приглашение."
)
CODE_FIRST = "Сначала получите код: нажмите «Отправить код на e-mail»."
CODE_OLD = "Код устарел: он действует 30 минут. Получите новый."
CODE_WRONG = "Код не подошёл. Проверьте последнее письмо с кодом или получите новый."


def _code_hash(invitation: Invitation, code: str) -> str:
    value = f"{invitation.pk}:{invitation.user_id}:{code.strip()}"
    return salted_hmac("cdt_portal.accounts.invitation_code", value, algorithm="sha256").hexdigest()


def invitation_code_start(*, invitation: Invitation) -> Job:
    """A director or an administrator accepting an invitation first gets a code at the e-mail
    on their account (a printed slip, or a link passed on, alone never opens a manager's
    account). A job sends it; pressing again within the minute finds the same job, later a
    new code replaces the old one."""
    user = invitation.user
    if not user.email:
        raise PortalError(CODE_NEEDS_EMAIL)
    return start_job(
        task=tasks.send_invitation_code,
        key=f"invitation-code:{invitation.pk}:{timezone.now():%Y%m%d%H%M}",
        kind="invitation_code",
        title=f"Код подтверждения на {user.email}",
        organisation_id=user.organisation_id,
        actor=None,
        args=(invitation.pk,),
        total=1,
    )


def invitation_code_run(*, job_id: int, invitation_id: int) -> str:
    """The job: a new code, its hash kept on the invitation (the code itself nowhere), then
    the letter. A letter the server refuses fails the job with the reason."""
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("user__organisation")
            .get(pk=invitation_id)
        )
        if locked.used_at or not locked.user.email:
            return ""
        locked.code_hash = _code_hash(locked, code)
        locked.code_sent_to = locked.user.email
        locked.code_sent_at = timezone.now()
        locked.save(update_fields=["code_hash", "code_sent_to", "code_sent_at"])
        log_action(
            None,
            locked.user,
            "invitation.code_sent",
            {"invitation": locked.pk, "email": locked.code_sent_to},
            organisation_id=locked.user.organisation_id,
        )
    message = build_templated(
        "invitation_code",
        to=[locked.code_sent_to],
        context={"person": locked.user, "code": code, "minutes": CODE_MINUTES},
    )
    with Mailer() as mailer:
        result = mailer.send(message)
    if result.outcome != mailing_sent:
        raise PortalError(f"Письмо с кодом не отправлено: {result.error or 'сервер не ответил'}")
    job_progress(job_id, 1)
    return ""


def _require_code(invitation: Invitation, code: str) -> None:
    if not invitation.code_hash or invitation.code_sent_at is None:
        raise PortalError(CODE_FIRST, field="code")
    if invitation.code_sent_at < timezone.now() - dt.timedelta(minutes=CODE_MINUTES):
        raise PortalError(CODE_OLD, field="code")
    if not constant_time_compare(_code_hash(invitation, code), invitation.code_hash):
        raise PortalError(CODE_WRONG, field="code")


def invitation_accept(*, invitation: Invitation, password: str, code: str = "") -> User:
    """The person chooses a password by their link; the link is spent. A director or an
    administrator also gives the code sent to their e-mail (`invitation_code_start`)."""
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=invitation.pk)
        )
        if locked.used_at:
            raise PortalError(LINK_USED)
        if is_manager(locked.user.roles):
            _require_code(locked, code)
        user = locked.user
        user.set_password(password)
        user.save(update_fields=["password"])
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        log_action(user, user, "invitation.accepted", {"invitation": locked.pk})
    return user


# --- Staff import -------------------------------------------------------------------------


def import_upload(
    *, organisation: Organisation, actor: User, filename: str, content: bytes, role: str
) -> ImportBatch:
    """Keep an uploaded list and start the job that reads it (`import_check`); the preview
    page shows «Проверяем список…» until the job has stored what it found. Queue down:
    `PortalError`, nothing is kept."""
    if role not in dict(IMPORT_ROLES):
        raise PortalError("Выберите, кого добавляет список.", field="role")
    if len(content) > IMPORT_MAX_BYTES:
        raise PortalError("Файл больше 5 МБ. Разделите список на несколько файлов.", field="file")
    if not content:
        raise PortalError("Файл пустой.", field="file")
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            organisation=organisation,
            created_by=actor,
            filename=filename[:300],
            content=content,
            role=role,
        )
        log_action(actor, batch, "import.uploaded", {"filename": batch.filename, "role": role})
        start_job(
            task=tasks.check_import,
            key=f"import-check:{batch.pk}",
            kind="import",
            title=f"Проверка списка «{batch.filename}»",
            organisation_id=organisation.pk,
            actor=actor,
            args=(batch.pk,),
        )
    return batch


def import_check(*, job_id: int, batch_id: int) -> str:
    """The parse job's work: read the file and store what the preview shows (or why the file
    cannot be read). Running it again stores the same thing; a batch no longer pending is
    left alone."""
    batch = ImportBatch.objects.select_related("organisation").get(pk=batch_id)
    if batch.status != ImportBatch.Status.PENDING:
        return ""

    def progress(done: int, total: int) -> None:
        job_progress(job_id, done, total)

    try:
        preview = stored_preview(
            preview_staff_import(
                organisation=batch.organisation, content=bytes(batch.content), progress=progress
            )
        )
    except PortalError as exc:
        preview = {"error": exc.message}
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch_id)
        if locked.status != ImportBatch.Status.PENDING or locked.preview == preview:
            return ""
        locked.preview = preview
        locked.save(update_fields=["preview"])
        log_action(
            None,
            locked,
            "import.checked",
            {k: preview.get(k, "") for k in ("error", "to_add", "matches", "errors")},
            organisation_id=locked.organisation_id,
        )
    return ""


IMPORT_ROWS_WITH_ERRORS = (
    "В списке есть строки с ошибками: исправьте файл и загрузите его снова. Ничего не добавлено."
)
IMPORT_EMAIL_TAKEN = (
    "Пока вы проверяли список, один из e-mail появился у другого человека. "
    "Ничего не добавлено: откройте проверку заново."
)
IMPORT_STILL_CHECKING = "Список ещё проверяется: дождитесь конца проверки."
IMPORT_APPLYING = "Люди из этого списка уже добавляются: отменить загрузку нельзя."
IMPORT_NOT_CONFIRMED = "Добавление не подтверждено: нажмите «Добавить» ещё раз."
# People added per INSERT.
IMPORT_CHUNK = 500


def _import_apply_key(batch_pk: int) -> str:
    return f"import-apply:{batch_pk}"


def _committed_batch(pk: int) -> ImportBatch:
    """The batch as last committed, read without its row lock: the apply job holds that lock
    for as long as it adds people, and no request may wait for it."""
    return ImportBatch.objects.defer("content").get(pk=pk)


def _require_clean(preview: dict | None) -> None:
    if preview is None:
        raise PortalError(IMPORT_STILL_CHECKING)
    if preview.get("error"):
        raise PortalError(preview["error"])
    if preview.get("errors"):
        raise PortalError(IMPORT_ROWS_WITH_ERRORS)


def _start_apply_job(batch: ImportBatch, actor: User) -> Job:
    return start_job(
        task=tasks.apply_import,
        key=_import_apply_key(batch.pk),
        kind="import",
        title=f"Добавление людей из списка «{batch.filename}»",
        organisation_id=batch.organisation_id,
        actor=actor,
        args=(batch.pk,),
        total=(batch.preview or {}).get("to_add", 0),
    )


def import_apply_start(*, batch: ImportBatch, actor: User) -> Job:
    """The administrator confirms a clean preview: the batch becomes `applying` and a job adds
    the people (`import_apply_run`); the request answers at once. Pressed again while the
    people are being added: the same job (one that failed is queued again). Queue down:
    `PortalError`, the batch stays pending and no job is recorded.

    Nothing is audited here: the change is the people, recorded once as `import.applied`
    (with this actor) in the job's transaction that adds them."""
    current = _committed_batch(batch.pk)
    if current.status != ImportBatch.Status.APPLYING:
        with transaction.atomic():
            locked = ImportBatch.objects.select_for_update().defer("content").get(pk=batch.pk)
            if locked.status == ImportBatch.Status.PENDING:
                _require_clean(locked.preview)
                locked.status = ImportBatch.Status.APPLYING
                locked.save(update_fields=["status"])
                # In the same transaction: a queue that is down undoes the change above.
                return _start_apply_job(locked, actor)
            if locked.status != ImportBatch.Status.APPLYING:
                raise PortalError(BATCH_DONE)
            current = locked
    return _start_apply_job(current, actor)


class _NotApplied(Exception):
    """The apply job found the file can no longer be added as it is; nothing was added."""

    def __init__(self, message: str, preview: dict | None) -> None:
        super().__init__(message)
        self.message, self.preview = message, preview


def _imported_person(batch: ImportBatch, row: ImportRow, taken: set[str]) -> User:
    return User(
        organisation=batch.organisation,
        username=free_username(
            username_base(
                last_name=row.last_name, first_name=row.first_name, patronymic=row.patronymic
            ),
            taken,
        ),
        last_name=row.last_name,
        first_name=row.first_name,
        patronymic=row.patronymic,
        position=row.position,
        email=row.email,
        phone=row.phone,
        password=make_password(None),  # no password until the invitation
    )


def _apply_locked(batch_id: int, actor: User | None) -> int | None:
    """Add the people of an `applying` batch; called in the job's one transaction. None when
    there is nothing to do (an earlier run applied it, or it was put back)."""
    locked = (
        ImportBatch.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=batch_id)
    )
    if locked.status != ImportBatch.Status.APPLYING:
        return None
    # Read again under the lock: what is added is exactly what the preview of this moment shows.
    try:
        preview = preview_staff_import(
            organisation=locked.organisation, content=bytes(locked.content)
        )
    except PortalError as exc:
        raise _NotApplied(exc.message, {"error": exc.message}) from exc
    if preview.errors:
        raise _NotApplied(IMPORT_ROWS_WITH_ERRORS, stored_preview(preview))
    total = len(preview.to_add)
    taken = {u.lower() for u in User.objects.values_list("username", flat=True)}
    try:
        with transaction.atomic():
            for start in range(0, total, IMPORT_CHUNK):
                rows = preview.to_add[start : start + IMPORT_CHUNK]
                people = User.objects.bulk_create(
                    [_imported_person(locked, row, taken) for row in rows]
                )
                UserRole.objects.bulk_create(
                    [UserRole(user=person, role=locked.role) for person in people]
                )
    except IntegrityError as exc:
        # Someone took one of these e-mails since the file was read: nobody is added.
        raise _NotApplied(IMPORT_EMAIL_TAKEN, None) from exc
    if total:
        _sheets_changed(locked.organisation_id)
    locked.status = ImportBatch.Status.APPLIED
    locked.content = b""  # the people are in the database now; the file is not kept
    locked.preview = stored_preview(preview)  # what was added, for the batch's page
    locked.save(update_fields=["status", "content", "preview"])
    log_action(
        actor,
        locked,
        "import.applied",
        {"filename": locked.filename, "role": locked.role, "count": total},
    )
    return total


def import_apply_failed(*, batch_id: int, preview: dict | None) -> None:
    """Nothing was added: the batch goes back to pending, the job's message saying why.

    Pending again, not a status of its own: the file is still there, so the administrator
    can press «Добавить» again (the failed job is queued again, and reads the file again) or
    cancel, and an abandoned list is dropped after a day like any other. When the file now
    has errors (`preview`), the page shows them, recorded as a new check by the system."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().defer("content").get(pk=batch_id)
        if locked.status != ImportBatch.Status.APPLYING:
            return
        locked.status = ImportBatch.Status.PENDING
        if preview is None or preview == locked.preview:
            locked.save(update_fields=["status"])
            return
        locked.preview = preview
        locked.save(update_fields=["status", "preview"])
        log_action(
            None,
            locked,
            "import.checked",
            {k: preview.get(k, "") for k in ("error", "to_add", "matches", "errors")},
            organisation_id=locked.organisation_id,
        )


def import_apply_run(*, job_id: int, batch_id: int) -> str:
    """The apply job's work: add the new people of an `applying` batch with their role, all
    in one transaction or nobody, audited once as `import.applied` by the person who pressed
    «Добавить». Running it again after it applied changes nothing. When the people cannot be
    added (the file has errors now, an e-mail was taken meanwhile, anything unexpected) the
    batch is pending again and the job fails with the reason. Returns the people list.

    The job ends done only when the batch is applied: a run that finds it put back (a stale
    second run) fails, so that pressing «Добавить» again queues the job again."""
    batch = _committed_batch(batch_id)
    # The batch's own page: it says how many were added and links to them.
    result_url = reverse("staff_import_preview", kwargs={"pk": batch_id})
    added = None
    if batch.status == ImportBatch.Status.APPLYING:
        job = Job.objects.select_related("started_by").filter(pk=job_id).first()
        actor = job.started_by if job is not None and job.started_by else batch.created_by
        # One transaction, so its progress could only be seen at its commit: the bar shows
        # «добавляются люди» until then (10,000 people take about 2 s).
        # Anything else that goes wrong puts the batch back too: the task's `on_failure`.
        try:
            with transaction.atomic():
                added = _apply_locked(batch_id, actor)
        except _NotApplied as refused:
            import_apply_failed(batch_id=batch_id, preview=refused.preview)
            raise PortalError(refused.message) from refused
    if added is not None:
        job_progress(job_id, added, added)
    elif _committed_batch(batch_id).status != ImportBatch.Status.APPLIED:
        raise PortalError(IMPORT_NOT_CONFIRMED)
    return result_url


def import_cancel(*, batch: ImportBatch, actor: User) -> None:
    """Drop a list before it is applied. Cancelling twice is harmless; an applied list can
    no longer be cancelled, nor one whose people are being added."""
    if _committed_batch(batch.pk).status == ImportBatch.Status.APPLYING:
        raise PortalError(IMPORT_APPLYING)  # at once: the apply job holds the row's lock
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == ImportBatch.Status.CANCELLED:
            return
        if locked.status != ImportBatch.Status.PENDING:
            raise PortalError(BATCH_DONE)
        locked.status = ImportBatch.Status.CANCELLED
        locked.content = b""
        locked.preview = None
        locked.save(update_fields=["status", "content", "preview"])
        log_action(actor, locked, "import.cancelled", {"filename": locked.filename})


def import_expire_abandoned(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> list[int]:
    """Lists left unconfirmed for longer than `older_than` are cancelled and their content
    dropped, each audited as done by the system. Run by a periodic task; running it again
    finds nothing more."""
    expired = []
    since = timezone.now() - older_than
    pks = ImportBatch.objects.filter(
        status=ImportBatch.Status.PENDING, created_at__lt=since
    ).values_list("pk", flat=True)
    for pk in list(pks):
        with transaction.atomic():
            locked = ImportBatch.objects.select_for_update().get(pk=pk)
            if locked.status != ImportBatch.Status.PENDING:
                continue
            locked.status = ImportBatch.Status.CANCELLED
            locked.content = b""
            locked.preview = None
            locked.save(update_fields=["status", "content", "preview"])
            log_action(
                None,
                locked,
                "import.expired",
                {"filename": locked.filename},
                organisation_id=locked.organisation_id,
            )
        expired.append(pk)
    return expired


def login_unlock(*, person: User, actor: User) -> int:
    """The director or an administrator clears the person's failed attempts (sign-in, codes,
    password reset, invitation) from every address. Returns how many counters were cleared."""
    if actor.organisation_id is None or actor.organisation_id != person.organisation_id:
        raise PortalError("Этот человек не из вашей организации.")
    with transaction.atomic():
        cleared = sum(throttle.reset(key) for key in throttle_keys(person))
        if not cleared:
            raise PortalError("Неудачных попыток входа нет: разблокировать нечего.")
        log_action(actor, person, "person.login_unlocked", {"attempts_cleared": cleared})
    return cleared
