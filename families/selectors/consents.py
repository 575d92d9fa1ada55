"""The consents: their texts and terms, the state of a child's consent, the ages and identity
documents they need, what is due for erasure, and the consent documents."""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass
from functools import reduce

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.template.loader import render_to_string

from accounts.models import Guardianship, Organisation, Role, StudyGroup, User
from acknowledgements.models import text_sha256
from cdt_portal.errors import PortalError
from cdt_portal.markup import render_markdown
from cdt_portal.models import AuditEntry
from cdt_portal.paging import search_people

from ..models import (
    AuthorityDocument,
    ChildDocument,
    ConsentAction,
    ConsentDetails,
    ConsentRecord,
    ConsentText,
    SignatureTerms,
    StudentConsent,
)


def _default_text(template_name: str, organisation: Organisation) -> str:
    return render_to_string(
        template_name,
        {
            "organisation": organisation,
            "retention_days": settings.CONSENT_RETENTION_DAYS,
            "sferum_operator": settings.SFERUM_OPERATOR,
        },
    )


def default_consent_text(organisation: Organisation) -> str:
    """The parent's consent: for their own data and their child's."""
    return _default_text("families/consent_default.md", organisation)


def default_student_consent_text(organisation: Organisation) -> str:
    """A student's own consent (from 14): in the first person, for their own data only, and
    withdrawn from their own page. An edition of `ConsentText` like the parent's, told apart
    by its text."""
    return _default_text("families/student_consent_default.md", organisation)


def default_signature_terms(organisation: Organisation) -> str:
    return render_to_string("families/signature_terms_default.md", {"organisation": organisation})


def _stored_or_new(model, organisation: Organisation, body: str):
    """The stored edition of `body` (a consent text, or the signature terms), or an unsaved one:
    the services store it with the first act signed under it."""
    found = model.objects.filter(organisation=organisation, text_sha256=text_sha256(body)).first()
    return found or model(organisation=organisation, text=body, text_sha256=text_sha256(body))


def current_signature_terms(organisation: Organisation) -> SignatureTerms:
    return _stored_or_new(SignatureTerms, organisation, default_signature_terms(organisation))


def current_consent_text(organisation: Organisation) -> ConsentText:
    """The consent text in force. Before anyone consented it is the portal's template, shown
    unsaved: the consent service stores it with the first consent."""
    # A changed template (the complete consent of issue 12) is a new edition: stored with the
    # first consent under it, while the records under the old one keep theirs.
    return _stored_or_new(ConsentText, organisation, default_consent_text(organisation))


def current_student_consent_text(organisation: Organisation) -> ConsentText:
    """The student's own consent text in force, shown unsaved until the first student gives it."""
    return _stored_or_new(ConsentText, organisation, default_student_consent_text(organisation))


def consent_state(student: User) -> ConsentRecord | None:
    """The consent in force for the student: their newest record."""
    return ConsentRecord.objects.filter(student=student).order_by("-at", "-pk").first()


# From this age a student gives their own consent too (ГК РФ ст. 26); from 18 alone.
OWN_CONSENT_AGE = 14
ADULT_AGE = 18


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Full years on `day` (born on 29 February: a year older on 1 March of other years)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


CHILD_DOCUMENT_FIELDS = ("series", "number", "issued_on", "issued_by")
CHILD_PASSPORT_NEEDED = (
    "Ребёнку исполнилось 14 лет: его личность удостоверяет паспорт. Укажите паспорт ребёнка."
)
CHILD_DOCUMENT_NEEDED = (
    "Полномочия подтверждает не свидетельство о рождении ребёнка: укажите документ, "
    "удостоверяющий личность ребёнка."
)


def child_birth_date(details: dict) -> dt.date | None:
    """The child's date of birth in a consent's details (a service's caller may give it as
    ISO text), or None."""
    born = details.get("child_birth_date")
    if isinstance(born, str):
        return dt.date.fromisoformat(born) if born else None
    return born


def with_child_document(details: dict, day: dt.date, *, required: bool = True) -> dict:
    """The consent's details with the child's identity document (the subject's, 152-ФЗ ст. 9
    ч. 4 п. 1). Left empty, it is the birth certificate that proves the parent's authority, if
    that is what the parent gave and the child is under 14 on `day`; otherwise the child's own
    document is needed (`PortalError` on `child_id_document`). From 14 a birth certificate no
    longer proves the child's identity, whichever way it is given. `required=False` (a paper
    signed on a blank printed before the document was asked for) lets it stay empty. Returns a
    new dict."""
    details = dict(details)
    born = child_birth_date(details)
    fourteen = born is not None and age_on(born, day) >= OWN_CONSENT_AGE
    given = details.get("child_id_document")
    if given:
        if fourteen and given == ChildDocument.BIRTH_CERTIFICATE:
            raise PortalError(CHILD_PASSPORT_NEEDED, field="child_id_document")
        return details
    if not fourteen and details.get("authority_document") == AuthorityDocument.BIRTH_CERTIFICATE:
        details["child_id_document"] = ChildDocument.BIRTH_CERTIFICATE
        for name in CHILD_DOCUMENT_FIELDS:
            details[f"child_id_{name}"] = details.get(f"authority_{name}")
        return details
    if not required:
        return details
    raise PortalError(
        CHILD_PASSPORT_NEEDED if fourteen else CHILD_DOCUMENT_NEEDED, field="child_id_document"
    )


def student_consent_state(student: User) -> StudentConsent | None:
    """The student's own consent in force: their newest act."""
    return StudentConsent.objects.filter(student=student).order_by("-at", "-pk").first()


# What the nightly job erases: the details of a consent a withdrawal ended, or of a student
# whose studies ended (the account switched off), once CONSENT_RETENTION_DAYS have passed.
WITHDRAWN = "withdrawn"
STUDIES_ENDED = "studies_ended"
# A parent's earlier consent, not the one in force, whose parent was unlinked from the child.
PARENT_UNLINKED = "parent_unlinked"
DEACTIVATED = "person.deactivated"  # the accounts' audit action for a switched-off account


@dataclass(frozen=True)
class ErasureDue:
    row: ConsentDetails | StudentConsent
    reason: str  # WITHDRAWN, STUDIES_ENDED or PARENT_UNLINKED
    since: dt.datetime  # the withdrawal, the account switched off, or the parent unlinked


def _studies_ended_at(student_field: str) -> Subquery:
    """When the student's account was last switched off (the audit log's entry)."""
    return Subquery(
        AuditEntry.objects.filter(
            action=DEACTIVATED,
            content_type=ContentType.objects.get_for_model(User),
            object_id=Cast(OuterRef(student_field), output_field=CharField()),
        )
        .order_by("-at", "-pk")
        .values("at")[:1]
    )


def _due(rows: QuerySet, *, student: str, act_at: str, acts: QuerySet, cutoff) -> list[ErasureDue]:
    """Of `rows` not erased yet: those whose act a withdrawal after it ended (the withdrawal no
    later than `cutoff`), those whose student's account was switched off no later than
    `cutoff` and is still off, and parents' consents whose parent was unlinked from the child
    no later than `cutoff`; each with the first of these reasons that holds, and its moment.
    `student` and `act_at` name the row's student and moment."""
    withdrawal = (
        acts.filter(
            student=OuterRef(student),
            action=ConsentAction.WITHDRAWN,
            at__gt=OuterRef(act_at),
            at__lte=cutoff,
        )
        .order_by("at", "pk")
        .values("at")[:1]
    )
    rows = rows.filter(erased_at__isnull=True).annotate(
        withdrawn_at=Subquery(withdrawal),
        left_at=_studies_ended_at(f"{student}_id"),
        student_active=F(f"{student}__is_active"),
    )
    # (the condition, the reason, the field holding its moment), in the order they are told.
    reasons = [
        (Q(withdrawn_at__isnull=False), WITHDRAWN, "withdrawn_at"),
        (Q(left_at__lte=cutoff, student_active=False), STUDIES_ENDED, "left_at"),
    ]
    if rows.model is ConsentDetails:  # a parent's consent: its parent may have been unlinked
        reasons.append((Q(parent_unlinked_at__lte=cutoff), PARENT_UNLINKED, "parent_unlinked_at"))
    due = rows.filter(reduce(operator.or_, (when for when, _, _ in reasons))).annotate(
        reason=Case(*(When(when, then=Value(reason)) for when, reason, _ in reasons)),
        since=Case(
            *(When(when, then=F(field)) for when, _, field in reasons),
            output_field=DateTimeField(),
        ),
    )
    return [ErasureDue(row, row.reason, row.since) for row in due.order_by("pk")]


# How far apart the erasure's runs are (`families.tasks`: every night).
ERASURE_RUNS_EVERY = dt.timedelta(days=1)


def consent_data_due_for_erasure(now: dt.datetime) -> list[ErasureDue]:
    """Every consent whose identity and address data the retention no longer allows to keep,
    across organisations: the parents' (the details of a «дано» act) and the students' own.
    The law counts the retention as a limit (152-ФЗ ст. 21 ч. 5: «в срок, не превышающий
    тридцати дней»), and the job runs once a night, so a consent is due on the last run before
    its retention ends: due at the next run instead, it would be kept up to a day too long."""
    cutoff = now - (dt.timedelta(days=settings.CONSENT_RETENTION_DAYS) - ERASURE_RUNS_EVERY)
    parents = _due(
        ConsentDetails.objects.filter(record__action=ConsentAction.GIVEN),
        student="record__student",
        act_at="record__at",
        acts=ConsentRecord.objects.all(),
        cutoff=cutoff,
    )
    students = _due(
        StudentConsent.objects.filter(action=ConsentAction.GIVEN),
        student="student",
        act_at="at",
        acts=StudentConsent.objects.all(),
        cutoff=cutoff,
    )
    return parents + students


@dataclass(frozen=True)
class ConsentListing:
    students: QuerySet[User]
    groups: QuerySet[StudyGroup]


def consent_listing(
    organisation: Organisation, *, query: str = "", group_id: int | None = None
) -> ConsentListing:
    """Students with their parents' consent history and their own (from 14), each oldest first,
    found by name and group."""
    records = Prefetch(
        "consents",
        queryset=ConsentRecord.objects.select_related("parent", "details").order_by("at", "pk"),
        to_attr="consent_history",
    )
    own = Prefetch(
        "own_consents",
        queryset=StudentConsent.objects.order_by("at", "pk"),
        to_attr="own_consent_history",
    )
    students = search_people(
        User.objects.filter(organisation=organisation)
        .with_role(Role.STUDENT)
        .prefetch_related(records, own, "study_groups")
        # A paper act is recorded for one of the student's parents: none, no link to it.
        .annotate(has_parents=Exists(Guardianship.objects.filter(student=OuterRef("pk"))))
        .order_by("last_name", "first_name"),
        query,
    )
    if group_id is not None:
        students = students.filter(study_groups__pk=group_id)
    return ConsentListing(students, StudyGroup.objects.filter(organisation=organisation))


def last_given_consent(student: User, parent: User | None = None) -> ConsentRecord | None:
    """The newest «дано» record for the student (by this parent, when given), with details."""
    records = ConsentRecord.objects.filter(student=student, action="given").select_related(
        "details", "parent"
    )
    if parent is not None:
        records = records.filter(parent=parent)
    return records.order_by("-at", "-pk").first()


def consent_record_for_manager(organisation: Organisation, pk: int) -> ConsentRecord:
    """A consent record of the organisation; any other is 404 (raised by the caller's
    get_object_or_404 semantics: DoesNotExist)."""
    return ConsentRecord.objects.select_related("details", "parent", "student").get(
        pk=pk, student__organisation=organisation
    )


def consent_operator(organisation: Organisation) -> dict:
    """The organisation as the operator a consent is given to."""
    return {
        "full_name": organisation.full_name,
        "short_name": organisation.short_name,
        "address": organisation.address,
        "phone": organisation.phone.as_international if organisation.phone else "",
        "email": organisation.email,
    }


def student_consent_document_context(organisation: Organisation) -> dict:
    """What a student's own consent shows: the operator and the student's text in force."""
    text = current_student_consent_text(organisation)
    return {
        "operator": consent_operator(organisation),
        "terms_html": str(render_markdown(text.text)),
        "text": text,
    }


def consent_document_context(organisation: Organisation, details=None, student=None) -> dict:
    """What the consent document (HTML and PDF) shows: the organisation as operator, the terms
    (a recorded consent's own edition, else the edition in force), and the filled details or
    blanks; for a recorded consent, the moment it was given."""
    record_id = getattr(details, "record_id", None)
    text = (
        ConsentText.objects.get(records__pk=record_id)
        if record_id
        else current_consent_text(organisation)
    )
    return {
        "operator": consent_operator(organisation),
        "terms_html": str(render_markdown(text.text)),
        "text": text,
        "details": details,
        # When a recorded online consent was given (the record's moment); None for a preview
        # that is not recorded yet.
        "given_at": details.record.at if record_id else None,
        "child_name": (
            details.child_full_name if details else (student.full_name if student else "")
        ),
    }
