"""What pages read about organisations, people, groups, invitations and staff imports."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from cdt_portal import outbox, throttle
from cdt_portal.audit import describe_entries, person_entries
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry, Delivery, Job
from cdt_portal.paging import contains_any_case, search_people

from .invitations import LINK_USED, code_expires_at, make_token
from .models import (
    Guardianship,
    ImportBatch,
    Invitation,
    InvitationMailing,
    Organisation,
    Role,
    StudyGroup,
    User,
)
from .roles import reach

# How much of a person's history their page shows; the audit page has the rest.
HISTORY_ON_PERSON_PAGE = 50


def public_organisations() -> list[Organisation]:
    """At most two organisations: enough to tell a one-institution deployment from a shared one."""
    return list(Organisation.objects.all()[:2])


def privacy_context(organisation: Organisation) -> dict:
    """The privacy policy's facts (152-ФЗ ст. 18.1), all from the organisation's record."""
    return {
        "organisation": organisation,
        "phone": organisation.phone.as_international if organisation.phone else "",
        "administrators": list(organisation.platform_administrators),
        # The nightly erasure of consents' identity data keeps this term (families.tasks).
        "retention_days": settings.CONSENT_RETENTION_DAYS,
        # Whom the data go to through Sferum, as the consents name them (SFERUM_OPERATOR).
        "sferum_operator": settings.SFERUM_OPERATOR,
    }


def taught_groups(teacher: User) -> QuerySet[StudyGroup]:
    return teacher.taught_groups.annotate(student_count=Count("students")).order_by("name")


# --- People -------------------------------------------------------------------------------


def people_list(*, organisation_id: int, role: str = "", query: str = "") -> QuerySet[User]:
    """The organisation's people, narrowed to a role (an unknown one is ignored) and to the
    words of a search."""
    people = User.objects.filter(organisation_id=organisation_id).prefetch_related("user_roles")
    if role in Role.values:
        people = people.with_role(role)
    if query:
        people = search_people(people, query)
    return people


@dataclass(frozen=True)
class PersonRecord:
    """What a person's page shows besides the person."""

    parents: list[User]
    children: list[User]
    taught_groups: list[StudyGroup]
    study_groups: list[StudyGroup]
    invitation: Invitation | None
    history: list[AuditEntry]  # the latest HISTORY_ON_PERSON_PAGE entries
    more_history: bool  # older entries exist (the audit page shows them)
    # Every letter the portal sent or tried to send the person, whichever app sent it: the
    # latest HISTORY_ON_PERSON_PAGE of them.
    letters: list[Delivery]
    more_letters: bool


def person_record(person: User) -> PersonRecord:
    links = Guardianship.objects.select_related("parent", "student")
    # One more than shown, to know whether there are older entries without counting them all.
    history = describe_entries(
        person_entries(person.organisation_id, person)[: HISTORY_ON_PERSON_PAGE + 1],
        person.organisation_id,
    )
    letters = list(outbox.history(person)[: HISTORY_ON_PERSON_PAGE + 1])
    return PersonRecord(
        parents=[link.parent for link in links.filter(student=person)],
        children=[link.student for link in links.filter(parent=person)],
        taught_groups=list(person.taught_groups.all()),
        study_groups=list(person.study_groups.all()),
        invitation=person.invitations.first(),
        history=history[:HISTORY_ON_PERSON_PAGE],
        more_history=len(history) > HISTORY_ON_PERSON_PAGE,
        letters=letters[:HISTORY_ON_PERSON_PAGE],
        more_letters=len(letters) > HISTORY_ON_PERSON_PAGE,
    )


def people_without_password(organisation_id: int) -> QuerySet[User]:
    """Every active person of the organisation who has not chosen a password yet, whoever may
    invite them (the services refuse, and record, those out of the actor's reach)."""
    return User.objects.filter(
        organisation_id=organisation_id,
        is_active=True,
        password__startswith=UNUSABLE_PASSWORD_PREFIX,
    ).prefetch_related("user_roles")


def people_waiting_for_invitation(actor: User) -> QuerySet[User]:
    """Active people of the actor's organisation who have not chosen a password yet and whom
    the actor may invite: never anyone holding a role the actor does not stand above
    (`roles.may_open_account_of`), so neither the list nor a printed slip shows them."""
    out_of_reach = set(Role.values) - reach(actor)
    people = (
        people_without_password(actor.organisation_id)
        .exclude(user_roles__role__in=out_of_reach)
        .exclude(pk=actor.pk)
    )
    if not actor.is_superuser:
        # The platform's own staff are nobody's in an organisation (`roles.is_platform_staff`).
        people = people.exclude(is_superuser=True).exclude(is_staff=True)
    return people.order_by("last_name", "first_name")


# --- Groups -------------------------------------------------------------------------------


def visible_groups(*, user: User, query: str = "") -> QuerySet[StudyGroup]:
    """The organisation's groups for a manager; a teacher's own groups for a teacher."""
    groups = StudyGroup.objects.filter(organisation_id=user.organisation_id)
    if not user.has_role(Role.ADMIN, Role.DIRECTOR):
        groups = groups.filter(teachers=user)
    for word in query.split():
        groups = groups.filter(contains_any_case("name", word))
    return (
        groups.annotate(student_count=Count("students", distinct=True))
        .prefetch_related("teachers")
        .order_by("name")
    )


def group_students(group: StudyGroup) -> QuerySet[User]:
    """A group's students with their parents, for the group's page."""
    return group.students.prefetch_related(
        Prefetch("parent_links", queryset=Guardianship.objects.select_related("parent"))
    ).order_by("last_name", "first_name")


# --- Invitations --------------------------------------------------------------------------

LINK_WRONG = "Ссылка-приглашение неверна или уже не действует."


def invitation_for_link(pk: int, token: str) -> Invitation:
    """The invitation if the link still works; otherwise a `PortalError` a person understands."""
    invitation = Invitation.objects.select_related("user__organisation").filter(pk=pk).first()
    if invitation is None or not constant_time_compare(make_token(invitation), token):
        if invitation is not None and invitation.used_at:
            raise PortalError(LINK_USED)
        raise PortalError(LINK_WRONG)
    if invitation.used_at:
        raise PortalError(LINK_USED)
    newest = invitation.user.invitations.order_by("-created_at", "-pk").first()
    if newest.pk != invitation.pk:
        raise PortalError("Вам выслали новое приглашение: эта ссылка заменена новой.")
    if invitation.expires_at <= timezone.now():
        expired = _organisation_time(invitation.expires_at, invitation.user.organisation)
        raise PortalError(f"Срок действия ссылки истёк {expired:%d.%m.%Y в %H:%M}.")
    if not invitation.user.is_active:
        raise PortalError("Учётная запись отключена.")
    return invitation


def _organisation_time(at: dt.datetime, organisation: Organisation | None) -> dt.datetime:
    """`at` on the organisation's clock: the person opening an invitation link is not signed
    in, so no time zone of theirs is active."""
    if organisation is None:
        return timezone.localtime(at)
    try:
        return timezone.localtime(at, zoneinfo.ZoneInfo(organisation.time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.localtime(at)


@dataclass(frozen=True)
class CodeState:
    """Where a manager's invitation code is, for the invitation's page: the last job sending
    one, and the last code sent, on the organisation's clock; why the last job failed, as a
    sentence («…: 550 no such user.», or the queue's own message, which ends with its stop)."""

    job: Job | None
    sent_at: dt.datetime | None
    expires_at: dt.datetime | None
    fresh: bool
    failure: str


def invitation_code_state(invitation: Invitation) -> CodeState:
    prefix = f"invitation-code:{invitation.pk}:"  # the jobs' keys (`invitation_code_start`)
    job = Job.objects.filter(kind="invitation_code", key__startswith=prefix).order_by("-pk").first()
    expires = code_expires_at(invitation)
    organisation = invitation.user.organisation
    return CodeState(
        job=job,
        sent_at=_organisation_time(invitation.code_sent_at, organisation)
        if invitation.code_sent_at
        else None,
        expires_at=_organisation_time(expires, organisation) if expires else None,
        fresh=expires is not None and timezone.now() < expires,
        failure=(
            job.message.rstrip(".") + "."
            if job is not None and job.status == Job.Status.FAILED
            else ""
        ),
    )


def invitation_by_pk(pk: int) -> Invitation | None:
    """Any invitation, working or not: a dead link's page still says whom to ask."""
    return Invitation.objects.select_related("user__organisation").filter(pk=pk).first()


# --- Staff import -------------------------------------------------------------------------


def import_batch_checked(batch: ImportBatch) -> dict | None:
    """What the parse job stored for the batch (counts and the rows the page lists), or None
    while it is still reading the file."""
    return batch.preview


def import_check_job(batch: ImportBatch) -> Job | None:
    return Job.objects.filter(key=f"import-check:{batch.pk}").first()


def import_apply_job(batch: ImportBatch) -> Job | None:
    return Job.objects.filter(key=f"import-apply:{batch.pk}").first()


# --- Invitations by e-mail ------------------------------------------------------------------


def unsent_deliveries(mailing: InvitationMailing) -> list[Delivery]:
    """The letters of a mailing that were not sent (refused, the server down) or whose sending
    was not confirmed (a worker killed mid-send): offered again, the administrator decides."""
    return list(outbox.unsent(mailing.batch))


@dataclass(frozen=True)
class MailingResults:
    mailing: InvitationMailing
    job: Job | None
    deliveries: list[Delivery]
    counts: dict[str, int]
    unsent: int
    unconfirmed: int


def mailing_results(mailing: InvitationMailing) -> MailingResults:
    deliveries = list(
        outbox.letters(mailing.batch).order_by("person__last_name", "person__first_name", "pk")
    )
    counts = Counter(d.status for d in deliveries)
    return MailingResults(
        mailing=mailing,
        job=Job.objects.filter(key=mailing.key).first(),
        deliveries=deliveries,
        counts={
            label: counts.get(value, 0)
            for value, label in Delivery.Status.choices
            # A mailing names only people with an e-mail, and never withdraws a letter.
            if value not in (Delivery.Status.NO_EMAIL, Delivery.Status.WITHDRAWN)
        },
        unsent=sum(counts.get(status, 0) for status in outbox.UNSENT),
        unconfirmed=counts.get(Delivery.Status.UNCONFIRMED, 0),
    )


def mailing_for_user(organisation_id: int, pk: int) -> InvitationMailing:
    """The organisation's mailing; 404 for any other."""
    return get_object_or_404(
        InvitationMailing.objects.select_related("organisation"),
        pk=pk,
        organisation_id=organisation_id,
    )


def mailing_of_job(job: Job) -> InvitationMailing:
    return InvitationMailing.objects.get(key=job.key)


@dataclass(frozen=True)
class PersonDelivery:
    delivery: Delivery
    mailing_id: int
    job: Job | None


def latest_person_delivery(person: User) -> PersonDelivery | None:
    """The person's most recent invitation letter, its mailing and the job sending it (for
    their page)."""
    delivery = outbox.history(person).filter(kind="invitation").first()
    if delivery is None:
        return None
    mailing = InvitationMailing.objects.filter(pk=int(delivery.batch.split(":")[1])).first()
    job = Job.objects.filter(key=mailing.key).first() if mailing else None
    return PersonDelivery(delivery, mailing.pk if mailing else 0, job)


def throttle_keys(person: User) -> list[str]:
    """Every key under which failures about this person are counted (for the unlock)."""
    keys = [person.username, f"otp:{person.username}"]
    if person.email:
        keys.append(f"reset:{person.email}")
    keys += [f"invite:{pk}" for pk in person.invitations.values_list("pk", flat=True)]
    return keys


def login_failures(person: User) -> int:
    """Failed attempts counted against the person now (sign-in, codes, reset, invitations)."""
    return throttle.failures(throttle_keys(person))
