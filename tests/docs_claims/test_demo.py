"""README, «Demo sign-ins» and «The audit log»: what `loaddemo` records. The demo's people are
written directly (no entry for a person added), their roles and the demo family's link go
through the services and are recorded as done by the system; the demo's regulation is approved
through the services by the director, so its approval is the newest entry: the first that
`/audit/` shows on a new installation. The staff's positions are left blank."""

from __future__ import annotations

import re

import pytest

from accounts.models import Role, User
from cdt_portal.audit import organisation_entries
from cdt_portal.models import AuditEntry
from portal.demo import load_demo

pytestmark = pytest.mark.django_db

SIGN_INS = ("admin", "director", "teacher", "student", "parent", "department")


def test_people_are_not_audited_their_roles_are_by_the_system_and_the_approval_is_newest(
    client,
):
    organisation = load_demo()
    director = User.objects.get(username="director")
    entries = AuditEntry.objects.filter(organisation=organisation)

    assert not entries.filter(action__in=("person.created", "person.updated")).exists()
    assert set(entries.filter(actor=None).values_list("action", flat=True)) == {
        "person.roles.changed",
        "guardianship.linked",
    }
    people = User.objects.filter(organisation=organisation).count()
    assert entries.filter(action="person.roles.changed").count() == people
    assert set(entries.exclude(actor=None).values_list("actor", flat=True)) == {director.pk}

    newest = organisation_entries(organisation.pk).first()
    assert (newest.action, newest.actor, newest.actor_name) == (
        "version.approved",
        director,
        director.full_name,
    )

    client.force_login(director)
    page = client.get("/audit/").content.decode()
    first_row = re.search(r"<tbody>.*?</tr>", page, re.S).group(0)
    assert "Редакция утверждена" in first_row


def test_the_other_staff_have_no_position_and_no_password():
    organisation = load_demo()
    others = User.objects.filter(organisation=organisation, user_roles__role=Role.TEACHER).exclude(
        username__in=SIGN_INS
    )
    assert others.count() == 12
    assert set(others.values_list("position", flat=True)) == {""}
    assert not any(person.has_usable_password() for person in others)
