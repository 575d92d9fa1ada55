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
    from acknowledgements.models import Acknowledgement, Document, DocumentVersion
    from cdt_portal.models import AuditEntry

    rows = [
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
    assert Organisation.objects.count() == 1
    assert approved_versions() == 1


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
def test_the_five_sign_ins_work_with_the_demo_password(client):
    load_demo()
    expected_home = {
        "admin": "/dashboard/",
        "director": "/dashboard/",
        "teacher": "/teacher/",
        "student": "/my/",
        "parent": "/my/",
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
        username__in=["admin", "director", "teacher", "student", "parent"]
    )
    assert others.count() == 12
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
    version = DocumentVersion.objects.get()
    assert version.status == "approved"
    assert version.order_label == "Приказ от 30.11.2023 г. № 201-О"
    assert version.approver_name == "О.Б. Денисенко"
    assert "## 1. Общие положения" in version.text
    assert "## 6. Техническая поддержка платформы" in version.text
    assert "Лист ознакомления" not in version.text  # the sheet is generated, not text
    assert version.order_pdf.name
