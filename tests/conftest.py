"""Personas: one organisation with a person per role, and an outsider from another one."""

from types import SimpleNamespace

import pytest

from accounts.models import Role
from tests.factories import GuardianshipFactory, OrganisationFactory, StudyGroupFactory, UserFactory


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Each test stores its files apart, so one test's files never answer for another's."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def organisation(db):
    return OrganisationFactory(slug="cdt", short_name="МКУ ДО «ЦДТ»")


@pytest.fixture
def director(organisation):
    return UserFactory(
        organisation=organisation, username="director", last_name="Денисенко",
        first_name="О.", patronymic="Б.", roles=[Role.DIRECTOR],
    )  # fmt: skip


@pytest.fixture
def admin(organisation):
    return UserFactory(
        organisation=organisation, username="admin", last_name="Захарова",
        first_name="Ольга", patronymic="Викторовна", roles=[Role.ADMIN, Role.TEACHER],
    )  # fmt: skip


@pytest.fixture
def teacher(organisation):
    return UserFactory(
        organisation=organisation, username="teacher", last_name="Иванова",
        first_name="Софья", patronymic="Николаевна", roles=[Role.TEACHER],
    )  # fmt: skip


@pytest.fixture
def student(organisation):
    return UserFactory(
        organisation=organisation, username="student", last_name="Кузнецов",
        first_name="Максим", patronymic="Андреевич", roles=[Role.STUDENT],
    )  # fmt: skip


@pytest.fixture
def parent(organisation, student):
    person = UserFactory(
        organisation=organisation, username="parent", last_name="Кузнецова",
        first_name="Елена", patronymic="Викторовна", roles=[Role.PARENT],
    )  # fmt: skip
    GuardianshipFactory(parent=person, student=student)
    return person


@pytest.fixture
def group(organisation, teacher, student):
    grp = StudyGroupFactory(organisation=organisation, name="Юный художник")
    grp.teachers.add(teacher)
    grp.students.add(student)
    return grp


@pytest.fixture
def other_organisation(db):
    return OrganisationFactory(slug="school2", short_name="МБОУ «СОШ № 2»")


@pytest.fixture
def outsider(other_organisation):
    """The platform administrator of another organisation."""
    return UserFactory(
        organisation=other_organisation, username="outsider", last_name="Чужой",
        first_name="Пётр", roles=[Role.ADMIN, Role.DIRECTOR, Role.TEACHER],
    )  # fmt: skip


@pytest.fixture
def superuser(db):
    return UserFactory(
        organisation=None, username="root", last_name="Суперпользователь", first_name="Портал",
        is_staff=True, is_superuser=True,
    )  # fmt: skip


@pytest.fixture
def personas(director, admin, teacher, student, parent, outsider, superuser):
    return SimpleNamespace(
        director=director, admin=admin, teacher=teacher, student=student, parent=parent,
        outsider=outsider, superuser=superuser,
    )  # fmt: skip


REGULATION_TEXT = """## 1. Общие положения

Текст первого раздела.

## 2. Регистрация на платформе

- первый пункт;
- второй пункт.
"""


def make_version(organisation, actor, *, approve: bool, number_text: str = "201-О"):
    import datetime as dt

    from acknowledgements.models import REGULATION_CODE, Document
    from acknowledgements.services import version_approve, version_create

    document, _ = Document.objects.get_or_create(
        organisation=organisation, code=REGULATION_CODE, defaults={"title": "Положение"}
    )
    version = version_create(
        document=document,
        actor=actor,
        title="Положение по использованию ИКОП «Сферум»",
        text=REGULATION_TEXT,
        order_number=number_text,
        order_date=dt.date(2023, 11, 30),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    if approve:
        version = version_approve(version=version, actor=actor)
    return version


@pytest.fixture
def regulation(organisation, director, admin, teacher):
    """The approved regulation; the admin and the teacher are asked to read it."""
    return make_version(organisation, director, approve=True)


@pytest.fixture
def draft_version(regulation, director):
    return make_version(
        regulation.document.organisation, director, approve=False, number_text="7-О"
    )


PNG_SCAN = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def make_ready_request(organisation, actor):
    """A registration request with the letter signed and the scan attached, for any
    organisation (the `ready_request` fixture and the race tests build it the same way)."""
    import datetime as dt

    from onboarding.services import (
        request_mark_ready,
        request_prepare_letter,
        request_start,
        request_update_details,
    )
    from onboarding.uploads import CheckedScan

    registration = request_start(organisation=organisation, actor=actor)
    request_update_details(
        request=registration,
        actor=actor,
        full_name=actor.full_name,
        position="педагог дополнительного образования",
        phone="+79123456789",
    )
    registration = request_prepare_letter(request=registration, actor=actor)
    return request_mark_ready(
        request=registration,
        actor=actor,
        scan=CheckedScan(PNG_SCAN, "image/png", "png"),
        questionnaire_filled_on=dt.date(2026, 11, 20),
    )


@pytest.fixture
def ready_request(organisation, admin):
    return make_ready_request(organisation, admin)


@pytest.fixture
def notice(organisation, admin):
    from onboarding.parents import notice_publish

    return notice_publish(
        organisation=organisation,
        actor=admin,
        text="Мы используем «Сферум». Подробности — в портале.",
    )
