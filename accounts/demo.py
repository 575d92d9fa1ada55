"""The demo's people: the seed's institution, its 14 staff and five sign-ins.

`portal.demo.load_demo` (run by `manage.py loaddemo`) calls this, then loads the regulation.

Everything is keyed on stable values (the organisation's slug, usernames), so loading twice
leaves exactly what loading once did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction

from .models import Department, Messenger, Organisation, Role, StudyGroup, User
from .services import guardianship_link, user_set_roles, username_base

DEMO_PASSWORD = "cdt-demo"
DEMO_SLUG = "cdt"

# Which of the sheet's 14 people hold the demo sign-ins (any two would do).
ADMIN_NAME = "Захарова Ольга Викторовна"
TEACHER_NAME = "Иванова Софья Николаевна"


@dataclass(frozen=True)
class SheetName:
    number: int
    last_name: str
    first_name: str
    patronymic: str

    @property
    def full_name(self) -> str:
        return f"{self.last_name} {self.first_name} {self.patronymic}"


def seed_sheet_names(text: str) -> list[SheetName]:
    """The names on the seed's «Лист ознакомления», in the sheet's order."""
    _, _, sheet = text.partition("Лист ознакомления")
    names = []
    for line in sheet.splitlines():
        match = re.match(r"^\s*(\d+)\.\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if match:
            number, last, first, middle = match.groups()
            names.append(SheetName(int(number), last, first, middle))
    return names


@dataclass(frozen=True)
class DemoSignIn:
    username: str
    description: str


DEMO_SIGN_INS = [
    DemoSignIn("admin", f"администратор ИКОП «Сферум» ({ADMIN_NAME}), также педагог"),
    DemoSignIn("director", "директор (О.Б. Денисенко)"),
    DemoSignIn("teacher", f"педагог ({TEACHER_NAME})"),
    DemoSignIn("student", "обучающийся демонстрационной группы"),
    DemoSignIn("parent", "родитель этого обучающегося"),
    # Made by departments.demo, with the demo department it follows.
    DemoSignIn("department", "специалист демонстрационного управления образования"),
]


def demo_person(
    organisation: Organisation | None,
    *,
    username: str,
    last_name: str,
    first_name: str,
    patronymic: str = "",
    position: str = "",
    roles: set[str],
    sign_in: bool,
    department: Department | None = None,
) -> User:
    """A demo person, signing in with DEMO_PASSWORD or not at all (`sign_in`); `department`
    for a department's specialist, who belongs to no organisation."""
    user, created = User.objects.update_or_create(
        username=username,
        defaults={
            "organisation": organisation,
            "department": department,
            "last_name": last_name,
            "first_name": first_name,
            "patronymic": patronymic,
            "position": position,
            "is_active": True,
        },
    )
    if sign_in:
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
    elif created:
        # Real staff get an invitation to choose their own password.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user_set_roles(user=user, roles=roles)
    return user


@dataclass(frozen=True)
class DemoPeople:
    organisation: Organisation
    director: User


@transaction.atomic
def load_demo_people(seed: str) -> DemoPeople:
    organisation, _ = Organisation.objects.update_or_create(
        slug=DEMO_SLUG,
        defaults={
            "full_name": (
                "Муниципальное казённое учреждение дополнительного образования "
                "«Центр детского творчества»"
            ),
            "short_name": "МКУ ДО «ЦДТ»",
            "head_position": "Директор",
            "head_name": "О.Б. Денисенко",
            "time_zone": "Europe/Moscow",
            "messenger": Messenger.VK,
        },
    )
    # The seed gives the director's initials only; nothing more is invented.
    director = demo_person(
        organisation,
        username="director",
        last_name="Денисенко",
        first_name="О.",
        patronymic="Б.",
        position="Директор",
        roles={Role.DIRECTOR},
        sign_in=True,
    )
    teacher = None
    for name in seed_sheet_names(seed):
        if name.full_name == ADMIN_NAME:
            username, roles = "admin", {Role.ADMIN, Role.TEACHER}
        elif name.full_name == TEACHER_NAME:
            username, roles = "teacher", {Role.TEACHER}
        else:
            username = username_base(
                last_name=name.last_name, first_name=name.first_name, patronymic=name.patronymic
            )
            roles = {Role.TEACHER}
        person = demo_person(
            organisation,
            username=username,
            last_name=name.last_name,
            first_name=name.first_name,
            patronymic=name.patronymic,
            roles=roles,
            sign_in=username in {"admin", "teacher"},
        )
        if username == "teacher":
            teacher = person

    # Not in the seed: a demo family, named plainly so nobody takes them for real people.
    student = demo_person(
        organisation,
        username="student",
        last_name="Кузнецов",
        first_name="Максим",
        patronymic="Андреевич",
        roles={Role.STUDENT},
        sign_in=True,
    )
    parent = demo_person(
        organisation,
        username="parent",
        last_name="Кузнецова",
        first_name="Елена",
        patronymic="Викторовна",
        roles={Role.PARENT},
        sign_in=True,
    )
    guardianship_link(parent=parent, student=student, actor=None)
    group, _ = StudyGroup.objects.get_or_create(
        organisation=organisation, name="Демонстрационная группа"
    )
    group.teachers.add(teacher)
    group.students.add(student)
    return DemoPeople(organisation, director)
