import re

import pytest
from django.core import serializers
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import Guardianship, Organisation, Role, StudyGroup, User, UserRole
from acknowledgements.demo import SEED_PATH
from portal.demo import load_demo
from tests.seed import shared_seed_text

seed_text = shared_seed_text


def names_on_the_sheet(text: str) -> list[str]:
    sheet = text.split("Лист ознакомления", 1)[1]
    return [m.group(1).strip() for m in re.finditer(r"^\d+\.\t([^\t\n]+)", sheet, re.M)]


def snapshot() -> str:
    from accounts.models import Department
    from acknowledgements.models import Acknowledgement, Document, DocumentVersion
    from cdt_portal.models import AuditEntry
    from onboarding.models import RegistrationRequest, TeacherSferumStatus

    rows = [
        *Department.objects.order_by("pk"),
        *RegistrationRequest.objects.order_by("pk"),
        *TeacherSferumStatus.objects.order_by("pk"),
        *Document.objects.order_by("pk"),
        *DocumentVersion.objects.order_by("pk"),
        *AuditEntry.objects.order_by("pk"),
        *Acknowledgement.objects.order_by("pk"),
        *Organisation.objects.order_by("pk"),
        *User.objects.order_by("pk"),
        *UserRole.objects.order_by("pk"),
        *Guardianship.objects.order_by("pk"),
        *StudyGroup.objects.order_by("pk"),
    ]
    return serializers.serialize("json", rows)


def test_the_shipped_seed_is_the_institutions_file_unchanged():
    assert SEED_PATH.read_text(encoding="utf-8") == seed_text()


@pytest.mark.django_db
def test_loaddemo_twice_leaves_the_same_data_as_once():
    call_command("loaddemo", stdout=open("/dev/null", "w"))
    once = snapshot()
    call_command("loaddemo", stdout=open("/dev/null", "w"))
    assert snapshot() == once
    # The seed institution and the demo department's two invented ones, one not yet approved;
    # the seed institution's regulation, the agreement and two example acts, and the
    # regulation of the approved invented one.
    assert Organisation.objects.count() == 3
    assert approved_versions() == 5


def approved_versions() -> int:
    from acknowledgements.models import DocumentVersion

    return DocumentVersion.objects.filter(status="approved").count()


@pytest.mark.django_db
def test_the_fourteen_staff_match_the_seed_exactly():
    organisation = load_demo()
    expected = names_on_the_sheet(seed_text())
    assert len(expected) == 14
    staff = [
        u.full_name
        for u in User.objects.filter(organisation=organisation, user_roles__role=Role.TEACHER)
    ]
    assert sorted(staff) == sorted(expected)
    assert "Сапёлкина Марина Леонидовна" in staff  # ё kept as written


@pytest.mark.django_db
def test_the_six_sign_ins_work_with_the_demo_password(client):
    load_demo()
    expected_home = {
        "admin": "/dashboard/",
        "director": "/dashboard/",
        "teacher": "/teacher/",
        "student": "/my/",
        "parent": "/my/",
        "department": "/department/",
    }
    for username, home in expected_home.items():
        client.logout()
        response = client.post("/accounts/login/", {"username": username, "password": "cdt-demo"})
        assert response.status_code == 302, username
        assert client.get("/")["Location"] == home, username


@pytest.mark.django_db
def test_the_director_is_not_on_the_sheet_and_keeps_the_seeds_initials_only():
    load_demo()
    director = User.objects.get(username="director")
    assert director.roles == {Role.DIRECTOR}
    assert director.short_name == "О.Б. Денисенко"
    assert director.organisation.head_name == "О.Б. Денисенко"
    assert director.full_name not in names_on_the_sheet(seed_text())


@pytest.mark.django_db
def test_the_admin_and_teacher_are_two_of_the_fourteen():
    load_demo()
    names = names_on_the_sheet(seed_text())
    admin = User.objects.get(username="admin")
    teacher = User.objects.get(username="teacher")
    assert admin.full_name in names and teacher.full_name in names
    assert admin != teacher
    assert Role.ADMIN in admin.roles


@pytest.mark.django_db
def test_the_student_and_parent_share_the_demo_group_and_guardianship():
    load_demo()
    student = User.objects.get(username="student")
    parent = User.objects.get(username="parent")
    assert Guardianship.objects.filter(parent=parent, student=student).exists()
    assert student.study_groups.count() == 1
    assert student.study_groups.get().teachers.filter(username="teacher").exists()


@pytest.mark.django_db
def test_other_staff_cannot_sign_in_until_invited():
    load_demo()
    others = User.objects.exclude(
        username__in=["admin", "director", "teacher", "student", "parent", "department"]
    )
    assert others.filter(organisation__slug="cdt").count() == 12
    # The demo institutions' people cannot sign in at all.
    assert others.count() > 12
    assert not any(u.has_usable_password() for u in others)


@pytest.mark.django_db
@override_settings(DEMO_ALLOWED=False)
def test_loaddemo_is_refused_under_production_settings():
    with pytest.raises(CommandError, match="production"):
        call_command("loaddemo")
    assert not Organisation.objects.exists()


@pytest.mark.django_db
def test_the_demo_regulation_is_approved_by_order_201_o():
    from acknowledgements.models import DocumentVersion

    load_demo()
    version = DocumentVersion.objects.get(
        document__organisation__slug="cdt", document__code="sferum"
    )
    assert version.status == "approved"
    assert version.order_label == "Приказ от 30.11.2023 г. № 201-О"
    assert version.approver_name == "О.Б. Денисенко"
    assert "## 1. Общие положения" in version.text
    assert "## 6. Техническая поддержка платформы" in version.text
    assert "Лист ознакомления" not in version.text  # the sheet is generated, not text
    assert version.order_pdf.name


def seed_institution_rows() -> str:
    """Every row of the seed institution itself, without its link to a department."""
    from acknowledgements.models import Acknowledgement, DocumentVersion

    organisation = Organisation.objects.get(slug="cdt")
    rows = [
        *User.objects.filter(organisation=organisation).order_by("pk"),
        *UserRole.objects.filter(user__organisation=organisation).order_by("pk"),
        *StudyGroup.objects.filter(organisation=organisation).order_by("pk"),
        *DocumentVersion.objects.filter(document__organisation=organisation).order_by("pk"),
        *Acknowledgement.objects.filter(person__organisation=organisation).order_by("pk"),
    ]
    fields = [f.name for f in Organisation._meta.fields if f.name != "department"]
    return serializers.serialize("json", [organisation], fields=fields) + serializers.serialize(
        "json", rows
    )


@pytest.mark.django_db
def test_the_demo_department_leaves_the_seed_institution_as_it_is():
    from accounts.demo import load_demo_people
    from acknowledgements.demo import load_regulation
    from departments.demo import load_demo_department

    people = load_demo_people(seed_text())
    load_regulation(people.organisation, people.director)
    before = seed_institution_rows()
    department = load_demo_department(people.organisation)
    assert seed_institution_rows() == before
    assert sorted(department.organisations.values_list("slug", flat=True)) == [
        "cdt", "demo-kindergarten-2", "demo-school-1"
    ]  # fmt: skip
    officer = User.objects.get(username="department")
    assert (officer.organisation, officer.department, officer.roles) == (
        None, department, {Role.DEPARTMENT}
    )  # fmt: skip


@pytest.mark.django_db
def test_the_demo_institutions_are_at_other_stages():
    from accounts.models import Department
    from departments.selectors import institution_rows

    load_demo()
    rows = {
        row.organisation.slug: row
        for row in institution_rows(Department.objects.get(slug="demo-uo"))
    }
    stages = {
        slug: (row.registration_status, row.staff.done, row.staff.total, row.groups.done)
        for slug, row in rows.items()
    }
    assert stages == {
        "cdt": ("", 0, 14, 0),
        "demo-school-1": ("sent", 5, 8, 2),
        "demo-kindergarten-2": ("draft", 0, 5, 0),
    }
