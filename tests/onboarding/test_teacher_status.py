"""Teachers report their Sferum steps; the administrator marks «учитель» verified."""

import pytest
from django.urls import reverse
from django.utils import timezone

from onboarding.models import SferumStatus, TeacherSferumStatus, TeacherStatusEvent
from onboarding.services import RequestError, teacher_status_advance


def step(client, to):
    return client.post(reverse("my_sferum_status"), {"to": to}, follow=True)


def test_a_teacher_reports_their_steps_and_the_admin_verifies(client, teacher, admin):
    client.force_login(teacher)
    assert "Профиль создан" in client.get(reverse("my_sferum_status")).content.decode()
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
    assert list(
        TeacherStatusEvent.objects.filter(person=teacher).values_list("to_status", "actor")
    ) == [
        (SferumStatus.PROFILE_CREATED, teacher.pk),
        (SferumStatus.VERIFICATION_REQUESTED, teacher.pk),
        (SferumStatus.VERIFIED, admin.pk),
    ]
    client.force_login(teacher)
    assert (
        f"Подтверждено {timezone.localdate():%d.%m.%Y}"
        in client.get(reverse("my_sferum_status")).content.decode()
    )


def test_steps_cannot_be_skipped(client, teacher):
    client.force_login(teacher)
    page = step(client, SferumStatus.VERIFICATION_REQUESTED).content.decode()
    assert "сначала нужен шаг «учебный профиль создан»" in page
    assert TeacherSferumStatus.objects.get(person=teacher).status == SferumStatus.NOT_STARTED


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


def test_nobody_reports_for_someone_else(teacher, admin):
    with pytest.raises(RequestError):
        teacher_status_advance(person=teacher, to=SferumStatus.PROFILE_CREATED, actor=admin)


def test_an_admin_of_another_organisation_gets_404(client, outsider, teacher):
    teacher_status_advance(person=teacher, to=SferumStatus.PROFILE_CREATED, actor=teacher)
    teacher_status_advance(person=teacher, to=SferumStatus.VERIFICATION_REQUESTED, actor=teacher)
    client.force_login(outsider)
    response = client.post(reverse("teacher_verify", kwargs={"pk": teacher.pk}))
    assert response.status_code == 404
    assert TeacherSferumStatus.objects.get(person=teacher).status != SferumStatus.VERIFIED
    assert teacher.full_name not in client.get(reverse("teacher_statuses")).content.decode()
