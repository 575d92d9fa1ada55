"""Institutions under a department, each at its own stage, built straight in the database."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.models import Guardianship, Organisation, Role, StudyGroup, User, UserRole
from acknowledgements.models import (
    REGULATION_CODE,
    AckMethod,
    Acknowledgement,
    Document,
    DocumentVersion,
    VersionStatus,
    text_sha256,
)
from families.models import (
    ConsentAction,
    ConsentRecord,
    ConsentText,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
)
from onboarding.models import RegistrationRequest, SferumStatus, TeacherSferumStatus

# Each (institution prefix, role) gets its own block of phone numbers, so no two people share
# one (the personal-data test looks for each person's phone on the department's pages; a
# number derived from hash() collided now and then, hash() being seeded per process).
_PHONE_BLOCKS: dict[tuple[str, str], int] = {}


def _people(organisation, prefix: str, count: int, role: str, **fields) -> list[User]:
    block = _PHONE_BLOCKS.setdefault((prefix, role), len(_PHONE_BLOCKS) % 1000)
    people = User.objects.bulk_create(
        User(
            organisation=organisation,
            username=f"{prefix}-{role}-{n}",
            last_name=f"{prefix.capitalize()}{role.capitalize()}ова{n}",
            first_name=f"Имя{role}{n}",
            patronymic=f"Отчество{n}",
            email=f"{prefix}-{role}-{n}@people.example",
            phone=f"+7916{block:03d}{n:04d}",
            password="!",
            **fields,
        )
        for n in range(count)
    )
    UserRole.objects.bulk_create(UserRole(user=p, role=role) for p in people)
    return people


def build_institution(
    department,
    slug: str,
    *,
    staff: int,
    confirmed: int,
    verified: int,
    groups: int,
    linked: int,
    families: int,
    informed: int,
    consents: int,
    request: str | None = None,
    read_by_past: bool = False,
    notice_deadline_past: bool = False,
) -> Organisation:
    """An institution with `staff` teachers (the first also its administrator), `families`
    parent-child pairs, and the given numbers done."""
    organisation = Organisation.objects.create(
        slug=slug, full_name=f"Учреждение {slug}", short_name=f"Учреждение {slug}",
        head_name="А.Б. Руководитель", department=department,
    )  # fmt: skip
    teachers = _people(organisation, slug, staff, Role.TEACHER, position="Педагог")
    admin = teachers[0]
    UserRole.objects.create(user=admin, role=Role.ADMIN)
    today = timezone.localdate()
    if confirmed is not None:
        document = Document.objects.create(organisation=organisation, code=REGULATION_CODE)
        version = DocumentVersion.objects.create(
            document=document, number=1, title="Положение", text="Текст", order_number="1",
            order_date=today, approver_position="Директор", approver_name="А.Б. Руководитель",
            status=VersionStatus.APPROVED, text_sha256=text_sha256("Текст"),
            read_by=today - dt.timedelta(days=1) if read_by_past else None,
        )  # fmt: skip
        Acknowledgement.objects.bulk_create(
            Acknowledgement(
                version=version,
                person=p,
                method=AckMethod.PAPER,
                acknowledged_on=today,
                recorded_by=admin,
                text_sha256=version.text_sha256,
            )
            for p in teachers[:confirmed]
        )
    TeacherSferumStatus.objects.bulk_create(
        TeacherSferumStatus(person=p, status=SferumStatus.VERIFIED) for p in teachers[:verified]
    )
    StudyGroup.objects.bulk_create(
        StudyGroup(
            organisation=organisation,
            name=f"Группа {n}",
            chat_invite_link=f"https://sferum.ru/?invite={slug}{n}" if n < linked else "",
        )
        for n in range(groups)
    )
    parents = _people(organisation, slug, families, Role.PARENT)
    students = _people(organisation, slug, families, Role.STUDENT)
    Guardianship.objects.bulk_create(
        Guardianship(parent=p, student=s) for p, s in zip(parents, students, strict=True)
    )
    notice = ParentNotice.objects.create(
        organisation=organisation, text="Уведомление", published_by=admin
    )
    NoticeAcknowledgement.objects.bulk_create(
        NoticeAcknowledgement(notice=notice, parent=p) for p in parents[:informed]
    )
    text = ConsentText.objects.create(organisation=organisation, text="С", text_sha256="0" * 64)
    ConsentRecord.objects.bulk_create(
        ConsentRecord(parent=p, student=s, action=ConsentAction.GIVEN, consent_text=text)
        for p, s in list(zip(parents, students, strict=True))[:consents]
    )
    if request:
        RegistrationRequest.objects.create(
            organisation=organisation, status=request, appointee=admin,
            admin_full_name=admin.full_name,
        )  # fmt: skip
    if notice_deadline_past:
        ParentDeadline.objects.create(
            organisation=organisation, kind="notice", due_date=today - dt.timedelta(days=2),
            reminders_from=today - dt.timedelta(days=9),
        )  # fmt: skip
    return organisation
