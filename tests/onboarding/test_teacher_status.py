"""Teachers report their Sferum steps; the administrator marks «учитель» verified."""

import pytest
from django.urls import reverse
from django.utils import timezone

from cdt_portal.audit import history
from cdt_portal.errors import PortalError
from onboarding.models import SferumStatus, TeacherSferumStatus
from onboarding.selectors import teacher_status
from onboarding.services import teacher_status_advance


def step(client, to):
    return client.post(reverse("my_sferum_status"), {"to": to}, follow=True)


def test_a_teacher_reports_their_steps_and_the_admin_verifies(client, teacher, admin):
    client.force_login(teacher)
    assert "Отметить: профиль создан" in client.get(reverse("my_sferum_status")).content.decode()
    step(client, SferumStatus.PROFILE_CREATED)
    page = step(client, SferumStatus.VERIFICATION_REQUESTED).content.decode()
    today = f"{timezone.localdate():%d.%m.%Y}"
    assert page.count(f"Отмечено {today}") == 2

    client.force_login(admin)
    listing = client.get(reverse("teacher_statuses")).content.decode()
    assert teacher.full_name in listing and "Статус подтверждён" in listing
    client.post(reverse("teacher_verify", kwargs={"pk": teacher.pk}))
    status = TeacherSferumStatus.objects.get(person=teacher)
    assert status.status == SferumStatus.VERIFIED
    assert status.verified_by == admin
    assert status.verified_on == timezone.localdate()
    assert [
        (entry.data["to"], entry.actor_id)
        for entry in history(teacher).filter(action="sferum_status.changed")
    ] == [
        (SferumStatus.PROFILE_CREATED, teacher.pk),
        (SferumStatus.VERIFICATION_REQUESTED, teacher.pk),
        (SferumStatus.VERIFIED, admin.pk),
    ]
    client.force_login(teacher)
    page = client.get(reverse("my_sferum_status")).content.decode()
    assert f"Подтверждено {timezone.localdate():%d.%m.%Y}" in page
    # the teacher's own history, read from the audit log
    assert "не начато → учебный профиль создан, С.Н. Иванова" in page
    assert "учебный профиль создан → запрошено подтверждение «учитель», С.Н. Иванова" in page
    assert "запрошено подтверждение «учитель» → статус «учитель» подтверждён, О.В. Захарова" in page


def test_steps_cannot_be_skipped(client, teacher):
    client.force_login(teacher)
    page = step(client, SferumStatus.VERIFICATION_REQUESTED).content.decode()
    assert "сначала нужен шаг «учебный профиль создан»" in page
    assert teacher_status(teacher).status == SferumStatus.NOT_STARTED
    assert not TeacherSferumStatus.objects.exists()  # a refusal writes nothing


def test_a_teacher_cannot_verify_themselves(client, teacher):
    client.force_login(teacher)
    step(client, SferumStatus.PROFILE_CREATED)
    step(client, SferumStatus.VERIFICATION_REQUESTED)
    page = step(client, SferumStatus.VERIFIED).content.decode()
    assert "Статус «учитель» отмечает администратор ИКОП «Сферум»." in page
    assert client.post(reverse("teacher_verify", kwargs={"pk": teacher.pk})).status_code == 403
    assert (
        TeacherSferumStatus.objects.get(person=teacher).status
        == SferumStatus.VERIFICATION_REQUESTED
    )


def test_an_unknown_step_is_refused(client, teacher):
    client.force_login(teacher)
    assert "Такого шага нет." in step(client, "hacked").content.decode()
    assert not TeacherSferumStatus.objects.exists()


def test_opening_the_page_writes_nothing(client, teacher):
    client.force_login(teacher)
    page = client.get(reverse("my_sferum_status")).content.decode()
    assert "Отметить: профиль создан" in page
    assert not TeacherSferumStatus.objects.exists()


def test_nobody_reports_for_someone_else(teacher, admin):
    with pytest.raises(PortalError, match=r"Этот шаг педагог отмечает сам\."):
        teacher_status_advance(person=teacher, to=SferumStatus.PROFILE_CREATED, actor=admin)


def test_an_admin_of_another_organisation_gets_404(client, outsider, teacher):
    teacher_status_advance(person=teacher, to=SferumStatus.PROFILE_CREATED, actor=teacher)
    teacher_status_advance(person=teacher, to=SferumStatus.VERIFICATION_REQUESTED, actor=teacher)
    client.force_login(outsider)
    response = client.post(reverse("teacher_verify", kwargs={"pk": teacher.pk}))
    assert response.status_code == 404
    assert TeacherSferumStatus.objects.get(person=teacher).status != SferumStatus.VERIFIED
    assert teacher.full_name not in client.get(reverse("teacher_statuses")).content.decode()
