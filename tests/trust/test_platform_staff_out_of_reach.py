"""The portal's own staff (Django admin's staff and superusers) are nobody's to manage in an
organisation, whatever roles they hold there or lack: an administrator of that organisation
can neither point their e-mail elsewhere, invite them, print their slip nor switch them off
(each of those would open the Django admin to whoever did it). Their invitation asks for the
mailed code, as a manager's does. Only a superuser manages them."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Invitation, Role, User
from accounts.roles import (
    is_manager,
    is_platform_staff,
    may_change_contacts,
    may_open_account_of,
    may_switch_account,
)
from accounts.selectors import people_waiting_for_invitation
from cdt_portal.models import AuditEntry
from tests.factories import UserFactory

STAFF_KINDS = {
    "superuser teaching here": {"is_staff": True, "is_superuser": True, "roles": [Role.TEACHER]},
    "superuser without a role": {"is_staff": True, "is_superuser": True, "roles": []},
    "staff without a role": {"is_staff": True, "is_superuser": False, "roles": []},
}


@pytest.fixture(params=list(STAFF_KINDS), ids=list(STAFF_KINDS))
def staff_member(request, organisation):
    return UserFactory(
        organisation=organisation, username="root2", last_name="Рутова", first_name="Анна",
        email="root@cdt.example", **STAFF_KINDS[request.param],
    )  # fmt: skip


def edit_data(person: User, email: str) -> dict:
    return {
        "last_name": person.last_name, "first_name": person.first_name,
        "patronymic": person.patronymic, "position": "", "email": email, "phone": "",
        "roles": sorted(person.roles),
    }  # fmt: skip


def test_the_rules_put_them_out_of_an_administrators_reach(admin, director, staff_member):
    assert is_platform_staff(staff_member)
    for actor in (admin, director):
        assert not may_open_account_of(actor, staff_member)
        assert not may_switch_account(actor, staff_member)
        assert not may_change_contacts(actor, staff_member, staff_member.roles)
    assert is_manager(staff_member)
    assert staff_member not in people_waiting_for_invitation(admin)


def test_a_superuser_still_manages_them(superuser, staff_member):
    assert may_open_account_of(superuser, staff_member)
    assert may_switch_account(superuser, staff_member)
    assert may_change_contacts(superuser, staff_member, staff_member.roles)


def test_their_e_mail_is_not_changed_by_the_administrator(client, admin, staff_member):
    client.force_login(admin)
    response = client.post(
        f"/people/{staff_member.pk}/edit/", edit_data(staff_member, "attacker@evil.example")
    )
    # The form locks the e-mail (what is posted for it is ignored) and offers the
    # administrator none of their roles to change: it saves nothing.
    assert response.status_code == 302
    assert response["Location"] == f"/people/{staff_member.pk}/"
    staff_member.refresh_from_db()
    assert staff_member.email == "root@cdt.example"
    assert not AuditEntry.objects.filter(action="person.updated").exists()


def test_they_are_not_invited_nor_switched_off_by_the_administrator(client, admin, staff_member):
    client.force_login(admin)
    response = client.post(f"/people/{staff_member.pk}/invite/")
    assert response.status_code == 302
    assert Invitation.objects.filter(user=staff_member).count() == 0
    assert mail.outbox == []
    assert AuditEntry.objects.filter(action="invitation.refused").count() == 1

    response = client.post(f"/people/{staff_member.pk}/active/", {"active": "0"})
    assert response.status_code == 302
    assert response["Location"] == f"/people/{staff_member.pk}/"
    staff_member.refresh_from_db()
    assert staff_member.is_active
    assert AuditEntry.objects.filter(action="person.activation.refused").count() == 1
