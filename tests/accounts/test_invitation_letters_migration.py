"""The invitation letters moved from `accounts.InvitationDelivery` into the portal's one outbox
(`cdt_portal.Delivery`, accounts migration 0014): each old row is a letter of its mailing's
batch with the same person, address, status, reason, attempts and the invitation it carried;
the mailing's page shows them as before; going back restores the old rows."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Invitation, InvitationMailing
from cdt_portal.models import Delivery
from tests.factories import UserFactory
from tests.migrating import migrate

BEFORE = [("accounts", "0013_invitation_code")]
AT = dt.datetime(2025, 9, 1, 9, 30, tzinfo=dt.UTC)
# (status, reason, attempts) of each old row, one person each.
OLD = {
    "Отправленова": ("sent", "", 1),
    "Отказанова": ("failed", "550 5.1.1 no such user", 2),
    "Неясная": ("unconfirmed", "работа прервалась во время отправки", 0),
    "Ждущая": ("pending", "", 0),
}


@pytest.fixture
def people(organisation):
    return {
        name: UserFactory(
            organisation=organisation, last_name=name, email=f"{name.lower()}@example.ru"
        )
        for name in OLD
    }


@pytest.fixture
def mailing(organisation, admin):
    return InvitationMailing.objects.create(
        organisation=organisation, created_by=admin, key="invitations:old", people_hash="0" * 64,
        base_url="http://testserver/",
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_old_rows_become_the_mailings_letters_and_going_back_restores_them(
    client, admin, mailing, people
):
    # One trip back and forth serves both halves: each migration to 0013 and back costs the
    # test about 2.5 s on SQLite (every later migration of every app undone and done again).
    sent_invitation = Invitation.objects.create(
        user=people["Отправленова"], expires_at=AT + dt.timedelta(days=14)
    )
    old = migrate(BEFORE)
    try:
        Old = old.get_model("accounts", "InvitationDelivery")
        for name, (status, reason, attempts) in OLD.items():
            Old.objects.create(
                mailing_id=mailing.pk,
                person_id=people[name].pk,
                email=people[name].email,
                status=status,
                reason=reason,
                attempts=attempts,
                updated_at=AT,
                invitation_id=sent_invitation.pk if status == "sent" else None,
            )
    finally:
        migrate()

    letters = Delivery.objects.filter(batch=mailing.batch).order_by("pk")
    assert [
        (d.person.last_name, d.email, d.kind, d.status, d.reason, d.attempts, d.updated_at)
        for d in letters
    ] == [
        (name, people[name].email, "invitation", status, reason, attempts, AT)
        for name, (status, reason, attempts) in OLD.items()
    ]
    assert letters[0].data == {"invitation": sent_invitation.pk}
    assert all(d.data == {} for d in letters[1:])
    assert {d.organisation_id for d in letters} == {mailing.organisation_id}

    client.force_login(admin)
    page = client.get(f"/people/invitations/mailings/{mailing.pk}/").content.decode()
    for name in OLD:
        assert people[name].email in page
    assert "550 5.1.1 no such user" in page

    try:
        back = migrate(BEFORE)
        rows = back.get_model("accounts", "InvitationDelivery").objects.order_by("pk")
        assert [(r.person_id, r.status, r.reason, r.attempts, r.invitation_id) for r in rows] == [
            (
                people[name].pk,
                status,
                reason,
                attempts,
                sent_invitation.pk if status == "sent" else None,
            )
            for name, (status, reason, attempts) in OLD.items()
        ]
        assert not back.get_model("cdt_portal", "Delivery").objects.filter(kind="invitation")
    finally:
        migrate()
