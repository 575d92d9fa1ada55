"""The demo department (`manage.py loaddemo`): the seed institution and two invented demo
institutions at other stages of the rollout, and the `department` sign-in.

The seed institution only gains its link to the department; none of its own data changes. The
two demo institutions are filled once, when they are created, so loading twice leaves exactly
what loading once did. They start in the MAX state, with an invented but complete address,
phone and e-mail marked «учебный пример» (the registration letter and the privacy policy need
them). Their people are named plainly and their institutions as demo, so nobody takes them for
real ones; none of them can sign in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.demo import demo_person
from accounts.models import (
    Department,
    Guardianship,
    Messenger,
    Organisation,
    Role,
    StudyGroup,
    User,
)
from acknowledgements.models import (
    REGULATION_CODE,
    REGULATION_TITLE,
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
    ParentNotice,
)
from onboarding.models import (
    RegistrationRequest,
    RequestStatus,
    SentVia,
    SferumStatus,
    TeacherSferumStatus,
)

DEPARTMENT_SLUG = "demo-uo"
# Ends every invented address, so nobody takes a demo institution's contacts for real ones.
EXAMPLE_MARK = "(учебный пример)"
DEPARTMENT_USERNAME = "department"

TEACHER_NAMES = [
    ("Абрамова", "Наталья", "Игоревна"),
    ("Белов", "Андрей", "Петрович"),
    ("Васильева", "Марина", "Олеговна"),
    ("Григорьев", "Илья", "Сергеевич"),
    ("Дмитриева", "Ольга", "Андреевна"),
    ("Егоров", "Павел", "Николаевич"),
    ("Жукова", "Татьяна", "Викторовна"),
    ("Зайцев", "Роман", "Алексеевич"),
]
FAMILY_NAMES = [
    ("Орлова", "Светлана", "Ивановна", "Орлов", "Кирилл"),
    ("Павлова", "Юлия", "Михайловна", "Павлов", "Денис"),
    ("Романова", "Ирина", "Сергеевна", "Романова", "Алиса"),
    ("Смирнова", "Анна", "Петровна", "Смирнов", "Тимофей"),
]


@dataclass(frozen=True)
class Stage:
    """How far a demo institution has come."""

    slug: str
    full_name: str
    short_name: str
    head_name: str
    teachers: int
    regulation_read: int | None  # staff who confirmed; None: no regulation approved yet
    verified: int
    groups_with_link: int
    request: str | None
    informed: int | None  # parents who confirmed the notice; None: no notice published
    consents: int
    # Invented contacts (the address ends with EXAMPLE_MARK; the e-mail's domain is .example).
    address: str = ""
    phone: str = ""
    email: str = ""


STAGES = [
    Stage(
        slug="demo-school-1",
        full_name="Муниципальное бюджетное общеобразовательное учреждение "
        "«Демонстрационная школа № 1»",
        short_name="МБОУ «Демо-школа № 1»",
        head_name="А.В. Демонстрационный",
        teachers=8,
        regulation_read=5,
        verified=3,
        groups_with_link=2,
        request=RequestStatus.SENT,
        informed=2,
        consents=1,
        address=f"000001, г. Демоград, ул. Школьная, д. 1 {EXAMPLE_MARK}",
        phone="+74950000001",
        email="school@demo-school-1.example",
    ),
    Stage(
        slug="demo-kindergarten-2",
        full_name="Муниципальное бюджетное дошкольное образовательное учреждение "
        "«Демонстрационный детский сад № 2»",
        short_name="МБДОУ «Демо-детский сад № 2»",
        head_name="Е.К. Примерова",
        teachers=5,
        regulation_read=None,
        verified=0,
        groups_with_link=0,
        request=RequestStatus.DRAFT,
        informed=None,
        consents=0,
        address=f"000002, г. Демоград, ул. Садовая, д. 2 {EXAMPLE_MARK}",
        phone="+74950000002",
        email="sad@demo-kindergarten-2.example",
    ),
]


def _person(organisation, username, last, first, patronymic, roles, position="") -> User:
    return demo_person(
        organisation, username=username, last_name=last, first_name=first,
        patronymic=patronymic, position=position, roles=roles, sign_in=False,
    )  # fmt: skip


def _fill(organisation: Organisation, stage: Stage) -> None:
    slug = stage.slug
    initials, surname = stage.head_name.split(" ")
    director = _person(
        organisation,
        f"{slug}-director",
        surname,
        initials[:2],
        initials[2:],
        {Role.DIRECTOR},
        "Директор",
    )
    admin = _person(
        organisation,
        f"{slug}-admin",
        "Соколова",
        "Ирина",
        "Павловна",
        {Role.ADMIN, Role.TEACHER},
        "Заместитель директора",
    )
    admin.email = f"admin@{slug}.example"
    admin.save(update_fields=["email"])
    teachers = [admin] + [
        _person(organisation, f"{slug}-t{n}", *name, {Role.TEACHER}, "Педагог")
        for n, name in enumerate(TEACHER_NAMES[: stage.teachers - 1], start=1)
    ]
    today = timezone.localdate()

    if stage.regulation_read is not None:
        document = Document.objects.create(
            organisation=organisation, code=REGULATION_CODE, title=REGULATION_TITLE
        )
        text = "## 1. Общие положения\n\nДемонстрационный текст Положения.\n"
        version = DocumentVersion.objects.create(
            document=document,
            number=1,
            title="Положение об использовании ИКОП «Сферум» (демонстрационное)",
            text=text,
            order_number="15-О",
            order_date=today - dt.timedelta(days=30),
            approver_position="Директор",
            approver_name=stage.head_name,
            status=VersionStatus.APPROVED,
            text_sha256=text_sha256(text),
            created_by=director,
            approved_at=timezone.now() - dt.timedelta(days=30),
            approved_by=director,
            read_by=today - dt.timedelta(days=7),
        )
        for person in teachers[: stage.regulation_read]:
            Acknowledgement.objects.create(
                version=version,
                person=person,
                method=AckMethod.PAPER,
                acknowledged_on=today - dt.timedelta(days=20),
                recorded_by=admin,
                text_sha256=version.text_sha256,
            )

    for person in teachers[: stage.verified]:
        TeacherSferumStatus.objects.create(
            person=person, status=SferumStatus.VERIFIED, verified_on=today, verified_by=admin
        )

    groups = []
    for n, teacher in enumerate(teachers[:3], start=1):
        link = f"https://sferum.ru/?invite=demo-{slug}-{n}" if n <= stage.groups_with_link else ""
        group = StudyGroup.objects.create(
            organisation=organisation, name=f"Объединение {n}", chat_invite_link=link
        )
        group.teachers.add(teacher)
        groups.append(group)

    notice = None
    if stage.informed is not None:
        notice = ParentNotice.objects.create(
            organisation=organisation,
            text="Уведомление родителей об использовании «Сферума» (демонстрационное).",
            published_by=admin,
        )
    consent_text = ConsentText.objects.create(
        organisation=organisation,
        text="Согласие на обработку персональных данных (демонстрационное).",
        text_sha256=text_sha256("demo"),
    )
    for n, (last, first, patronymic, child_last, child_first) in enumerate(FAMILY_NAMES):
        parent = _person(organisation, f"{slug}-p{n}", last, first, patronymic, {Role.PARENT})
        student = _person(organisation, f"{slug}-s{n}", child_last, child_first, "", {Role.STUDENT})
        Guardianship.objects.create(parent=parent, student=student)
        groups[n % len(groups)].students.add(student)
        if notice is not None and n < stage.informed:
            NoticeAcknowledgement.objects.create(notice=notice, parent=parent)
        if n < stage.consents:
            ConsentRecord.objects.create(
                parent=parent,
                student=student,
                action=ConsentAction.GIVEN,
                consent_text=consent_text,
            )

    if stage.request is not None:
        sent = stage.request == RequestStatus.SENT
        request = RegistrationRequest.objects.create(
            organisation=organisation,
            status=stage.request,
            appointee=admin,
            admin_full_name=admin.full_name,
            admin_position=admin.position,
            sent_at=timezone.now() - dt.timedelta(days=3) if sent else None,
            sent_via=SentVia.SMTP if sent else "",
        )
        # Started before it was sent (`created_at` is set on creation, so it is moved after).
        RegistrationRequest.objects.filter(pk=request.pk).update(
            created_at=timezone.now() - dt.timedelta(days=10)
        )


@transaction.atomic
def load_demo_department(seed_organisation: Organisation) -> Department:
    department, _ = Department.objects.update_or_create(
        slug=DEPARTMENT_SLUG,
        defaults={
            "full_name": "Демонстрационное управление образования (учебный пример)",
            "short_name": "Демо-управление образования",
        },
    )
    if seed_organisation.department_id != department.pk:
        # Only the link: the institution's own data stays as the seed gives it.
        Organisation.objects.filter(pk=seed_organisation.pk).update(department=department)
    seed_organisation.department = department
    for stage in STAGES:
        organisation, created = Organisation.objects.get_or_create(
            slug=stage.slug,
            defaults={
                "full_name": stage.full_name,
                "short_name": stage.short_name,
                "head_name": stage.head_name,
                "department": department,
                "messenger": Messenger.MAX,
                "address": stage.address,
                "phone": stage.phone,
                "email": stage.email,
            },
        )
        if created:
            _fill(organisation, stage)

    demo_person(
        None, department=department, username=DEPARTMENT_USERNAME, last_name="Специалистова",
        first_name="Мария", patronymic="Андреевна", position="Главный специалист (демо)",
        roles={Role.DEPARTMENT}, sign_in=True,
    )  # fmt: skip
    return department
