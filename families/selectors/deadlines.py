"""The parents' deadlines (who is pending, overdue or due a reminder) and the reminders sent:
letters of the core's outbox, kind `parent_reminder`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Count,
    DateField,
    Exists,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import Guardianship, Organisation, Role, User
from cdt_portal.models import Delivery
from cdt_portal.reminder_schedule import people_due

from ..models import (
    ConsentRecord,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentTask,
)
from .notices import current_notice


def _declined_choices(organisation: Organisation):
    return FamilyChoice.objects.filter(
        declined=True, student__organisation=organisation, parent__organisation=organisation
    )


def declined_family_ids(organisation: Organisation) -> frozenset[int]:
    """The people of families who said «не используем „Сферум“»: each declining parent and the
    child they declined for. Reminder code leaves them out, so nobody is pressed."""
    ids: set[int] = set()
    for parent_id, student_id in _declined_choices(organisation).values_list(
        "parent_id", "student_id"
    ):
        ids.update((parent_id, student_id))
    return frozenset(ids)


def parent_deadline(organisation: Organisation, kind: str) -> ParentDeadline | None:
    return ParentDeadline.objects.filter(organisation=organisation, kind=kind).first()


def _latest_consent_action():
    return (
        ConsentRecord.objects.filter(student=OuterRef("student"))
        .order_by("-at", "-pk")
        .values("action")[:1]
    )


def pending_parents(organisation: Organisation, kind: str) -> QuerySet[User]:
    """Active parents who have not done `kind` yet: not confirmed the notice in force, or with
    an active child for whom no consent was ever given. Families who decline Sferum
    (`declined_family_ids`) are left out, and so are those who withdrew a consent: they
    decided, and nobody presses them (a consent is voluntary; the consents list shows the
    withdrawal). Two queries, whatever the size."""
    parents = User.objects.active_in(organisation).with_role(Role.PARENT)
    if kind == ParentTask.NOTICE:
        notice = current_notice(organisation)
        if notice is None:
            return parents.none()
        parents = parents.exclude(
            Exists(NoticeAcknowledgement.objects.filter(notice=notice, parent=OuterRef("pk")))
        )
    else:
        missing = (
            Guardianship.objects.filter(
                parent=OuterRef("pk"), student__is_active=True, student__organisation=organisation
            )
            .annotate(state=Subquery(_latest_consent_action()))
            .filter(state__isnull=True)
        )
        parents = parents.filter(Exists(missing))
    return parents.exclude(pk__in=declined_family_ids(organisation)).order_by(
        "last_name", "first_name"
    )


def overdue_parents(
    organisation: Organisation, kind: str, *, today: dt.date | None = None
) -> QuerySet[User]:
    """Pending parents once the due date set by the administrator has passed."""
    deadline = parent_deadline(organisation, kind)
    today = today or timezone.localdate()
    if deadline is None or today <= deadline.due_date:
        return User.objects.none()
    return pending_parents(organisation, kind)


def overdue_consent_student_ids(
    organisation: Organisation, *, today: dt.date | None = None
) -> frozenset[int]:
    """Active students for whom no consent was given by the consent's due date (for the
    «просрочено» badge and filter of the consents list); families who decline, and those who
    withdrew a consent, left out (`pending_parents`)."""
    deadline = parent_deadline(organisation, ParentTask.CONSENT)
    today = today or timezone.localdate()
    if deadline is None or today <= deadline.due_date:
        return frozenset()
    latest = (
        ConsentRecord.objects.filter(student=OuterRef("pk"))
        .order_by("-at", "-pk")
        .values("action")[:1]
    )
    ids = (
        User.objects.active_in(organisation)
        .with_role(Role.STUDENT)
        .annotate(state=Subquery(latest))
        .filter(state__isnull=True)
        .exclude(pk__in=declined_family_ids(organisation))
        .values_list("pk", flat=True)
    )
    return frozenset(ids)


def parents_to_remind_in_person(organisation: Organisation, kind: str) -> QuerySet[User]:
    """Pending parents without an e-mail address: the administrator reminds them in person."""
    return pending_parents(organisation, kind).filter(email="")


# The parents' reminders: letters of the core's outbox -----------------------------------------

REMINDER_KIND = Delivery.Kind.PARENT_REMINDER
# The parents' pages name the states of a reminder as they always have: a parent without an
# e-mail is one the administrator reminds in person.
REMINDER_STATUS_LABELS = {
    **dict(Delivery.Status.choices),
    Delivery.Status.NO_EMAIL: "нет e-mail: напомнить лично",
}


def parent_reminders_job_key(organisation_id: int, on_date: dt.date) -> str:
    """One job per organisation and day sends that day's reminders of both kinds."""
    return f"parent-reminders:{organisation_id}:{on_date:%Y-%m-%d}"


def parent_reminder_batch(organisation_id: int, kind: str, on_date: dt.date) -> str:
    """The outbox batch of one kind of reminder on one day: a batch holds each parent once, so
    a parent due for the notice and the consent gets two letters, and the day's job run again
    adds nobody. The organisation is in the name because a batch is sent by one job at a time
    (a second sender would take the first one's letter in flight for an interrupted one)."""
    return f"parent-reminders:{organisation_id}:{kind}:{on_date:%Y-%m-%d}"


def _reminders(organisation_id: int, kind: str) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        kind=REMINDER_KIND, organisation_id=organisation_id, data__kind=kind
    )


def _on_date():
    """The day a reminder was due, kept in its letter's data (`on_date`, ISO)."""
    return Cast(KeyTextTransform("on_date", "data"), DateField())


def parent_reminder_history(deadline: ParentDeadline) -> dict[int, tuple[int, dt.date]]:
    """Each parent's reminders under `deadline` so far: (how many, the day of the last). Every
    letter counts, whatever became of it (one whose sending was not confirmed may have
    arrived, one not yet sent today is today's), but one withdrawn as its turn came: the
    parent had done what it asked, and was never reminded."""
    rows = (
        _reminders(deadline.organisation_id, deadline.kind)
        .exclude(status=Delivery.Status.WITHDRAWN)
        .annotate(on_date=_on_date())
        .filter(on_date__gte=deadline.reminders_from)
        .values("person_id")
        .annotate(n=Count("pk"), last=Max("on_date"))
        .order_by()
    )
    return {row["person_id"]: (row["n"], row["last"]) for row in rows}


def parents_due_reminder(deadline: ParentDeadline, *, today: dt.date) -> list[User]:
    """The pending parents (`pending_parents`: families who decline left out) whose reminder
    under `deadline` is due `today` by the shared schedule (`people_due`): never twice a
    day, at most REMINDER_MAX times."""
    return people_due(
        pending_parents(deadline.organisation, deadline.kind),
        parent_reminder_history(deadline),
        today=today,
        start=deadline.reminders_from,
        due=deadline.due_date,
    )


@dataclass(frozen=True)
class ParentReminderRow:
    """One reminder as the parents' pages list it."""

    on_date: dt.date
    parent: User
    status: str
    status_label: str
    reason: str


def recent_parent_reminders(
    organisation: Organisation, kind: str, limit: int = 20
) -> list[ParentReminderRow]:
    """The newest reminders of `kind` (the letters of the outbox), newest first."""
    letters = (
        _reminders(organisation.pk, kind)
        .annotate(on_date=_on_date())
        .select_related("person")
        .order_by("-on_date", "-pk")[:limit]
    )
    return [
        ParentReminderRow(
            on_date=letter.on_date,
            parent=letter.person,
            status=letter.status,
            status_label=REMINDER_STATUS_LABELS.get(letter.status, letter.status),
            reason=letter.reason,
        )
        for letter in letters
    ]
