"""Issue 14: every institution page answers in the same number of queries whatever the size of
the organisation. Each page is measured in a small world; the world is then grown (more staff,
acknowledgements, Sferum statuses, groups with and without chat links, students, families,
consents, notices read, audit entries) and the page must answer in exactly as many queries
again, so a query per row fails the test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Guardianship, Role, StudyGroup, User, UserRole
from acknowledgements.models import AckMethod, Acknowledgement, DocumentVersion
from cdt_portal.models import AuditEntry
from families.models import (
    ConsentAction,
    ConsentDetails,
    ConsentMethod,
    ConsentRecord,
    FamilyChannel,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentTask,
    StudentNoticeAcknowledgement,
)
from families.selectors import current_student_notice
from families.services import consent_give, student_notice_publish
from onboarding.models import AmendmentItem, AmendmentState, SferumStatus, TeacherSferumStatus
from tests.factories import PASSWORD, GuardianshipFactory, UserFactory
from tests.families.builders import FILLED_CONSENT
from tests.helpers import changed_outside_services

SMALL, LARGE = 5, 30  # teachers added to the personas; groups, students and parents follow
PAPER_DATE = dt.date(2026, 11, 2)
STATUSES = [
    None,  # no status row at all
    SferumStatus.NOT_STARTED,
    SferumStatus.PROFILE_CREATED,
    SferumStatus.VERIFICATION_REQUESTED,
    SferumStatus.VERIFIED,
]
CONSENT_DETAILS = {
    name: dt.date.fromisoformat(value) if name.endswith(("_on", "_date")) else value
    for name, value in FILLED_CONSENT.items()
}


# --- the world ------------------------------------------------------------------------------


@pytest.fixture
def world(organisation, director, admin, teacher, student, parent, group, regulation, notice):
    """The personas plus a teacher who has read the regulation, a parent of three children,
    the students' notice and one consent given through the service (it stores the consent
    text); then `SMALL` teachers with everything that grows with them."""
    reader = UserFactory(
        organisation=organisation, username="reader", last_name="Читалова", roles=[Role.TEACHER]
    )
    Acknowledgement.objects.create(
        version=regulation, person=reader, method=AckMethod.ONLINE, acknowledged_on=PAPER_DATE,
        recorded_by=reader, text_sha256=regulation.text_sha256,
    )  # fmt: skip
    children = [student] + [
        UserFactory(
            organisation=organisation,
            username=f"child{i}",
            last_name=f"Многодетов{i}",
            roles=[Role.STUDENT],
        )
        for i in range(2)
    ]
    parent_of_three = UserFactory(
        organisation=organisation, username="parent3", last_name="Многодетова",
        roles=[Role.PARENT],
    )  # fmt: skip
    for child in children:
        GuardianshipFactory(parent=parent_of_three, student=child)
    group.students.add(*children[1:])
    student_notice_publish(
        organisation=organisation, actor=admin, text="Чат объединения — в «Сферуме»."
    )
    consent_give(
        parent=parent,
        student=student,
        details=FILLED_CONSENT,
        password=PASSWORD,
        terms_accepted=True,
        ip_address=None,
    )
    # Every due date has passed, so the lists also mark and filter who is overdue (test data:
    # the services refuse a date in the past).
    past = timezone.localdate() - dt.timedelta(days=7)
    DocumentVersion.objects.filter(pk=regulation.pk).update(read_by=past)
    regulation.refresh_from_db()
    ParentDeadline.objects.bulk_create(
        ParentDeadline(organisation=organisation, kind=kind, due_date=past, reminders_from=past)
        for kind in ParentTask.values
    )
    w = SimpleNamespace(
        organisation=organisation, director=director, admin=admin, teacher=teacher,
        reader=reader, student=student, parent=parent, parent_of_three=parent_of_three,
        children=children, group=group, regulation=regulation, notice=notice, teachers=0,
        serial=0,
    )  # fmt: skip
    grow(w, SMALL)
    return w


def _inserted(model, objs: list) -> list:
    made = model.objects.bulk_create(objs, batch_size=500)
    assert all(obj.pk is not None for obj in made), "the backend returns no primary keys"
    return made


def _people(w, count: int, kind: str, role: str) -> list[User]:
    """`count` people holding `role`, named so that a search for «Рост» finds them all."""
    first = w.serial
    w.serial += count
    people = _inserted(
        User,
        [
            User(
                organisation=w.organisation,
                username=f"{kind}-{first + i}",
                last_name=f"Рост{first + i:05d}",
                first_name="Анна",
                patronymic="Сергеевна",
                password=make_password(None),
                position="педагог" if role == Role.TEACHER else "",
            )
            for i in range(count)
        ],
    )
    UserRole.objects.bulk_create(UserRole(user=p, role=role) for p in people)
    return people


def grow(w, count: int) -> None:
    """Add `count` teachers and, with them, every kind of row the institution pages read."""
    if count <= 0:
        return
    org, version = w.organisation, w.regulation
    w.teachers += count
    teachers = _people(w, count, "teacher", Role.TEACHER)
    statuses = [(p, STATUSES[i % len(STATUSES)]) for i, p in enumerate(teachers)]
    verified = SferumStatus.VERIFIED
    TeacherSferumStatus.objects.bulk_create(
        TeacherSferumStatus(
            person=p,
            status=s,
            verified_on=PAPER_DATE if s == verified else None,
            verified_by=w.admin if s == verified else None,
        )
        for p, s in statuses
        if s is not None
    )
    Acknowledgement.objects.bulk_create(
        Acknowledgement(
            version=version,
            person=p,
            method=AckMethod.ONLINE if i % 4 == 0 else AckMethod.PAPER,
            acknowledged_on=PAPER_DATE,
            recorded_by=p if i % 4 == 0 else w.admin,
            text_sha256=version.text_sha256,
        )
        for i, p in enumerate(teachers)
        if i % 2 == 0
    )
    # A group per new teacher: a third with a Sferum link, a third with a MAX link, a third
    # with none. The persona teacher teaches every one and the persona student (with the
    # brother and sister) attends every one, so their own pages list more groups too.
    groups = _inserted(
        StudyGroup,
        [
            StudyGroup(
                organisation=org,
                name=f"Рост-объединение {p.last_name}",
                chat_invite_link=f"https://sferum.ru/?invite={p.pk}" if i % 3 == 0 else "",
                max_invite_link=f"https://max.ru/join/g{p.pk}" if i % 3 == 1 else "",
            )
            for i, p in enumerate(teachers)
        ],
    )
    students = _people(w, 2 * count, "student", Role.STUDENT)
    # The first half of the students are brothers and sisters (a parent for two), the rest
    # have a parent each.
    guardian_of = [i // 2 if i < count else i - count // 2 for i in range(len(students))]
    parents = _people(w, max(guardian_of) + 1, "parent", Role.PARENT)
    families = [(parents[g], s) for g, s in zip(guardian_of, students, strict=True)]
    Guardianship.objects.bulk_create(Guardianship(parent=p, student=s) for p, s in families)
    teach, attend = StudyGroup.teachers.through, StudyGroup.students.through
    teach.objects.bulk_create(
        [teach(studygroup=g, user=t) for g, t in zip(groups, teachers, strict=True)]
        + [teach(studygroup=g, user=w.teacher) for g in groups]
    )
    attend.objects.bulk_create(
        [attend(studygroup=groups[i // 2], user=s) for i, s in enumerate(students)]
        + [attend(studygroup=g, user=c) for g in groups for c in w.children]
    )
    AmendmentItem.objects.bulk_create(
        AmendmentItem(
            organisation=org, group=g, state=AmendmentState.AMENDED, amended_on=PAPER_DATE
        )
        for g in groups[::2]
    )
    # Half the parents read the notice and half the students theirs; a third of the students
    # have consent given (half of those withdrawn since); every fifth family declines Sferum.
    NoticeAcknowledgement.objects.bulk_create(
        NoticeAcknowledgement(notice=w.notice, parent=p) for p in parents[::2]
    )
    StudentNoticeAcknowledgement.objects.bulk_create(
        StudentNoticeAcknowledgement(notice=current_student_notice(org), student=s)
        for s in students[::2]
    )
    consent_text = ConsentRecord.objects.get(student=w.student).consent_text
    acts = [(p, s, ConsentAction.GIVEN) for i, (p, s) in enumerate(families) if i % 3 == 0]
    acts += [(p, s, ConsentAction.WITHDRAWN) for i, (p, s) in enumerate(families) if i % 6 == 0]
    records = _inserted(
        ConsentRecord,
        [
            ConsentRecord(parent=p, student=s, action=a, consent_text=consent_text)
            for p, s, a in acts
        ],
    )
    ConsentDetails.objects.bulk_create(
        ConsentDetails(
            record=r,
            method=ConsentMethod.PAPER,
            signed_on=PAPER_DATE,
            recorded_by=w.admin,
            **(CONSENT_DETAILS if r.action == ConsentAction.GIVEN else {}),
        )
        for r in records
    )
    FamilyChoice.objects.bulk_create(
        FamilyChoice(
            parent=p,
            student=s,
            declined=True,
            channel=FamilyChannel.PHONE,
            contact="+79120000000",
        )
        for i, (p, s) in enumerate(families)
        if i % 5 == 1
    )
    # The log: an entry per new person, by different actors, about different kinds of object;
    # every other one names its person by id, as a confirmation's entry does, which the page
    # shows by name (`cdt_portal.audit.describe_entries`).
    kinds = [ContentType.objects.get_for_model(m) for m in (User, StudyGroup, DocumentVersion)]
    AuditEntry.objects.bulk_create(
        AuditEntry(
            organisation=org,
            actor=p,
            actor_name=p.full_name,
            action="acknowledgement.confirmed" if i % 2 else "person.created",
            content_type=kinds[i % len(kinds)],
            object_id=str(p.pk),
            object_repr=p.full_name,
            data={"person": p.pk} if i % 2 else {"roles": [None, ["teacher"]]},
        )
        for i, p in enumerate(teachers + students + parents)
    )


GROWING = [
    User,
    UserRole,
    TeacherSferumStatus,
    Acknowledgement,
    StudyGroup,
    StudyGroup.teachers.through,
    StudyGroup.students.through,
    Guardianship,
    AmendmentItem,
    NoticeAcknowledgement,
    StudentNoticeAcknowledgement,
    ConsentRecord,
    ConsentDetails,
    FamilyChoice,
    AuditEntry,
]


def test_the_larger_world_has_more_of_every_row(world):
    """The comparison means something only if the larger world lists more of everything."""
    before = {model: model.objects.count() for model in GROWING}
    groups_with = {
        "sferum": StudyGroup.objects.exclude(chat_invite_link="").count(),
        "max": StudyGroup.objects.exclude(max_invite_link="").count(),
        "none": StudyGroup.objects.filter(chat_invite_link="", max_invite_link="").count(),
    }
    taught, attended = world.teacher.taught_groups.count(), world.student.study_groups.count()
    grow(world, LARGE - SMALL)
    grown = {m._meta.label: (before[m], m.objects.count()) for m in GROWING}
    assert {label for label, (old, new) in grown.items() if new <= old} == set(), grown
    assert StudyGroup.objects.exclude(chat_invite_link="").count() > groups_with["sferum"]
    assert StudyGroup.objects.exclude(max_invite_link="").count() > groups_with["max"]
    assert (
        StudyGroup.objects.filter(chat_invite_link="", max_invite_link="").count()
        > groups_with["none"]
    )
    assert world.teacher.taught_groups.count() == taught + LARGE - SMALL
    assert world.student.study_groups.count() == attended + LARGE - SMALL
    assert world.teachers == LARGE


# --- the pages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    id: str
    persona: str
    url: str | Callable[[SimpleNamespace], str]
    sizes: tuple[int, int] = (SMALL, LARGE)
    # Named on the page once per row it lists (every grown person and group is «Рост…»);
    # None for the pages that show only counts or the person's own state.
    rows: str | None = "Рост"

    def address(self, w) -> str:
        return self.url(w) if callable(self.url) else self.url


ACKS = "/regulation/acknowledgements/"
ACKS_CSV = "/regulation/acknowledgements.csv"
PAGES = [
    Page("dashboard-director", "director", "/dashboard/", rows=None),
    Page("dashboard-admin", "admin", "/dashboard/", rows=None),
    Page("acknowledgements", "admin", ACKS),
    Page("acknowledgements-confirmed", "admin", f"{ACKS}?status=confirmed"),
    Page("acknowledgements-pending", "admin", f"{ACKS}?status=pending"),
    Page("acknowledgements-overdue", "admin", f"{ACKS}?status=overdue"),
    Page("acknowledgements-search", "admin", f"{ACKS}?q=Рост"),
    Page("acknowledgements-search-confirmed", "director", f"{ACKS}?status=confirmed&q=Рост"),
    Page("acknowledgements-csv", "admin", ACKS_CSV),
    Page("acknowledgements-csv-filtered", "director", f"{ACKS_CSV}?status=pending&q=Рост"),
    Page("people", "admin", "/people/"),
    Page("people-search", "admin", "/people/?q=Рост"),
    Page("people-teachers", "admin", "/people/?role=teacher"),
    Page("people-students", "admin", "/people/?role=student"),
    Page("people-parents", "director", "/people/?role=parent&q=Рост"),
    # Page 2 exists only past 50 people: measured from 12 teachers (about 60 people) on.
    Page("people-page-2", "admin", "/people/?page=2", sizes=(12, LARGE)),
    Page("groups", "admin", "/groups/"),
    Page("regulation-not-read", "teacher", "/regulation/", rows=None),
    Page("regulation-read", "reader", "/regulation/", rows=None),
    Page("teacher-home", "teacher", "/teacher/"),
    Page("family-home-student", "student", "/my/"),
    Page("family-home-parent-of-one", "parent", "/my/"),
    Page("family-home-parent-of-three", "parent_of_three", "/my/"),
    Page("teacher-statuses", "admin", "/onboarding/teachers/"),
    Page("teacher-statuses-verified", "admin", "/onboarding/teachers/?status=verified"),
    Page("teacher-statuses-search", "director", "/onboarding/teachers/?q=Рост"),
    Page("notices", "admin", "/notices/"),
    Page("notices-director", "director", "/notices/"),
    Page("consents", "admin", "/consents/"),
    Page("consents-search", "admin", "/consents/?q=Рост"),
    Page("consents-group", "admin", lambda w: f"/consents/?group={w.group.pk}"),
    Page("consents-overdue", "director", "/consents/?overdue=1"),
    Page("audit", "admin", "/audit/"),
    Page("audit-filtered", "director", "/audit/?action=person.created"),
]


def fetch(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize("page", PAGES, ids=[page.id for page in PAGES])
def test_the_query_count_does_not_grow(page, world, client, django_assert_num_queries):
    """Both ways a page gets its numbers: counted (after any change) and read back from
    `cdt_portal.numbers` (nothing changed since); each costs the same at both sizes."""
    small, large = page.sizes
    grow(world, small - world.teachers)
    client.force_login(getattr(world, page.persona))
    url = page.address(world)
    fetch(client, url)  # the first request fills the per-process caches (content types…)
    changed_outside_services()
    with CaptureQueriesContext(connection) as counted:
        small_body = fetch(client, url)
    with CaptureQueriesContext(connection) as read_back:
        fetch(client, url)
    grow(world, large - small)
    assert world.teachers == large
    changed_outside_services()
    with django_assert_num_queries(len(counted.captured_queries)):
        large_body = fetch(client, url)
    with django_assert_num_queries(len(read_back.captured_queries)):
        fetch(client, url)
    # The larger page is a different page: the world it reads has grown, and a list lists more.
    assert large_body != small_body
    if page.rows is not None:
        marker = page.rows.encode()
        assert large_body.count(marker) > small_body.count(marker) > 0
