"""§4.7 of the regulation: the director and the administrators use the учебный профиль with a
verified «учитель» status too. They keep the Sferum status page; the dashboard counts them."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.models import SferumStatus, TeacherSferumStatus
from onboarding.selectors import staff_status_counts
from onboarding.services import teacher_status_advance
from portal.navigation import nav_for

PAGE = "/onboarding/my-status/"
S = SferumStatus


def test_the_director_keeps_her_own_status(client, director, admin):
    client.force_login(director)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response.context["is_manager"] is True
    assert not TeacherSferumStatus.objects.exists()  # opening the page writes nothing

    response = client.post(PAGE, {"to": S.PROFILE_CREATED})
    assert response.status_code == 302 and response["Location"] == PAGE
    client.post(PAGE, {"to": S.VERIFICATION_REQUESTED})
    status = TeacherSferumStatus.objects.get(person=director)
    assert status.status == S.VERIFICATION_REQUESTED
    entries = AuditEntry.objects.filter(action="sferum_status.changed", object_id=str(director.pk))
    assert [(e.actor_id, e.data) for e in entries.order_by("pk")] == [
        (director.pk, {"from": S.NOT_STARTED, "to": S.PROFILE_CREATED}),
        (director.pk, {"from": S.PROFILE_CREATED, "to": S.VERIFICATION_REQUESTED}),
    ]

    # the director may not verify herself; the administrator does
    assert client.post(reverse("teacher_verify", kwargs={"pk": director.pk})).status_code == 403
    client.force_login(admin)
    response = client.post(reverse("teacher_verify", kwargs={"pk": director.pk}))
    assert response["Location"] == "/onboarding/teachers/"
    status.refresh_from_db()
    assert (status.status, status.verified_by) == (S.VERIFIED, admin)


def test_a_director_cannot_report_for_someone_else(director, admin):
    with pytest.raises(PortalError, match="педагог отмечает сам"):
        teacher_status_advance(person=admin, to=S.PROFILE_CREATED, actor=director)
    assert not TeacherSferumStatus.objects.exists()


@pytest.mark.parametrize("who", ["student", "parent"])
def test_families_have_no_status_page(client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"to": S.PROFILE_CREATED}).status_code == 403


def test_another_organisations_director_is_404_to_verify(client, outsider, director):
    teacher_status_advance(person=director, to=S.PROFILE_CREATED, actor=director)
    teacher_status_advance(person=director, to=S.VERIFICATION_REQUESTED, actor=director)
    client.force_login(outsider)
    assert client.post(reverse("teacher_verify", kwargs={"pk": director.pk})).status_code == 404
    assert TeacherSferumStatus.objects.get(person=director).status == S.VERIFICATION_REQUESTED


def test_the_navigation_shows_the_page_to_managers(director, admin, teacher, student):
    def names(user):
        return [item["name"] for item in nav_for(user)]

    assert "my_sferum_status" in names(director)
    assert "my_sferum_status" in names(admin)
    assert "my_sferum_status" in names(teacher)
    assert "my_sferum_status" not in names(student)
    # The §5.1 checklist is reached from its dashboard card: the navbar has no room for it.
    assert not any("amendments" in names(user) for user in (director, admin, teacher))


def test_staff_status_counts(organisation, director, admin, teacher, outsider):
    # the admin (also a teacher) is verified; the director has asked; the teacher not started
    for step in (S.PROFILE_CREATED, S.VERIFICATION_REQUESTED):
        teacher_status_advance(person=admin, to=step, actor=admin)
        teacher_status_advance(person=director, to=step, actor=director)
    teacher_status_advance(person=admin, to=S.VERIFIED, actor=admin)

    rows = staff_status_counts(organisation)
    assert [(r.label, r.verified.done, r.verified.total) for r in rows] == [
        ("Руководитель", 0, 1),
        ("Администраторы ИКОП «Сферум»", 1, 1),
    ]
    assert [p.pk for p in rows[0].not_verified] == [director.pk]
    assert rows[1].not_verified == []


def test_the_dashboard_partial(organisation, director, admin):
    teacher_status_advance(person=director, to=S.PROFILE_CREATED, actor=director)
    teacher_status_advance(person=director, to=S.VERIFICATION_REQUESTED, actor=director)
    request = RequestFactory().get("/dashboard/")
    request.user = admin
    html = render_to_string(
        "onboarding/_dashboard_statuses.html",
        {"staff_statuses": staff_status_counts(organisation), "user": admin},
        request=request,
    )
    assert "Руководитель" in html and "0 из 1" in html
    assert director.full_name in html
    assert reverse("teacher_verify", kwargs={"pk": director.pk}) in html
    assert PAGE in html
