"""Who may put a password on an account is who stands above every role it holds.

The takeover that worked («Демо-детский сад № 2»): an administrator printed a slip for the
director, who had no password yet, opened its link, chose a password and, the director having
no authenticator, connected her own. Here each step is tried through the pages and refused at
the first one not allowed, the refusal recorded; the slip list never shows such a person; and
even a link that reaches a manager opens the account only with a code from their own mailbox.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client

from accounts.models import Invitation, Role, User
from accounts.services import invitation_issue
from cdt_portal.models import AuditEntry
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def newcomers(organisation):
    """The director and a second administrator who have not chosen a password yet, and a
    teacher in the same state."""
    people = {
        "director": UserFactory(
            organisation=organisation, username="newdirector", last_name="Директорова",
            first_name="Дарья", email="director@cdt.example", roles=[Role.DIRECTOR],
        ),
        "admin2": UserFactory(
            organisation=organisation, username="admin2", last_name="Второва",
            first_name="Анна", email="admin2@cdt.example", roles=[Role.ADMIN, Role.TEACHER],
        ),
        "teacher": UserFactory(
            organisation=organisation, username="newteacher", last_name="Новикова",
            first_name="Нина", email="teacher@cdt.example", roles=[Role.TEACHER],
        ),
    }  # fmt: skip
    for person in people.values():
        person.password = make_password(None)
        person.save(update_fields=["password"])
    return people


def refusals() -> list[tuple[str, str]]:
    return list(
        AuditEntry.objects.filter(action="invitation.refused").values_list("action", "object_id")
    )


def test_the_slip_list_shows_only_people_the_administrator_stands_above(client, admin, newcomers):
    client.force_login(admin)
    page = client.get("/people/invitations/").content.decode()
    assert newcomers["teacher"].full_name in page
    assert newcomers["director"].full_name not in page
    assert newcomers["admin2"].full_name not in page


@pytest.mark.parametrize("who", ["director", "admin2"])
def test_a_slip_for_a_manager_is_refused_recorded_and_nothing_printed(
    client, admin, newcomers, who
):
    target = newcomers[who]
    client.force_login(admin)
    response = client.post(
        "/people/invitations/", {"people": [target.pk, newcomers["teacher"].pk]}, follow=True
    )
    assert response.redirect_chain == [("/people/invitations/", 302)]
    assert response["Content-Type"].startswith("text/html")
    assert "может дать только тот, кто назначает все его роли" in response.content.decode()
    assert not Invitation.objects.exists()  # the teacher's slip is not printed either
    assert refusals() == [("invitation.refused", str(target.pk))]
    entry = AuditEntry.objects.get(action="invitation.refused")
    assert entry.actor == admin and entry.organisation_id == admin.organisation_id


def test_inviting_a_manager_by_email_from_their_page_is_refused_and_recorded(
    client, admin, newcomers
):
    director = newcomers["director"]
    client.force_login(admin)
    page = client.get(f"/people/{director.pk}/").content.decode()
    assert f'action="/people/{director.pk}/invite/"' not in page
    response = client.post(f"/people/{director.pk}/invite/", follow=True)
    assert response.redirect_chain == [(f"/people/{director.pk}/", 302)]
    assert "может дать только тот, кто назначает все его роли" in response.content.decode()
    assert not Invitation.objects.exists() and mail.outbox == []
    assert refusals() == [("invitation.refused", str(director.pk))]


def test_nor_may_the_administrator_point_the_managers_email_elsewhere(client, admin, newcomers):
    """The form does not offer the field (a value sent anyway is not taken); the service
    refuses and records it (tests/accounts/test_audit.py)."""
    director = newcomers["director"]
    client.force_login(admin)
    form = client.get(f"/people/{director.pk}/edit/").content.decode()
    assert re.search(r'<input[^>]*name="email"[^>]*disabled', form)
    response = client.post(
        f"/people/{director.pk}/edit/",
        {
            "last_name": director.last_name, "first_name": director.first_name,
            "email": "attacker@evil.example", "roles": [Role.DIRECTOR], "password": PASSWORD,
        },
    )  # fmt: skip
    assert (response.status_code, response["Location"]) == (302, f"/people/{director.pk}/")
    assert User.objects.get(pk=director.pk).email == "director@cdt.example"
    assert mail.outbox == []


def test_the_director_invites_an_administrator_and_everyone_below(client, director, newcomers):
    client.force_login(director)
    page = client.get("/people/invitations/").content.decode()
    assert newcomers["admin2"].full_name in page and newcomers["teacher"].full_name in page
    assert newcomers["director"].full_name not in page  # another director: the superuser's
    response = client.post(
        "/people/invitations/",
        {"people": [newcomers["admin2"].pk, newcomers["teacher"].pk]},
        follow=True,
    )
    # The slips are a job (run at once here): its sheet's address serves them.
    assert response.redirect_chain[0][0].startswith("/people/invitations/slips/")
    assert response["Content-Type"] == "application/pdf"
    assert Invitation.objects.count() == 2 and refusals() == []


def link_of(invitation: Invitation) -> str:
    from accounts.invitations import make_token

    return f"/invite/{invitation.pk}/{make_token(invitation)}/"


def test_a_managers_link_alone_opens_nothing_a_code_from_their_mailbox_does(
    superuser, newcomers, settings
):
    settings.REQUIRE_2FA_FOR_MANAGERS = True
    director = newcomers["director"]
    invitation = invitation_issue(
        user=director, actor=superuser, base_url="http://testserver/"
    ).invitation
    holder = Client()  # whoever holds the printed link
    url = link_of(invitation)
    page = holder.get(url).content.decode()
    assert "Отправить код на e-mail" in page and "di***@cdt.example" in page
    new_password = {"new_password1": "Ёлка-2026-зима", "new_password2": "Ёлка-2026-зима"}
    refused = holder.post(url, {**new_password, "code": "123456"})
    assert refused.status_code == 400
    assert "Сначала получите код" in refused.content.decode()
    assert not User.objects.get(pk=director.pk).has_usable_password()

    sent = holder.post(url, {"send_code": "1"}, follow=True)
    assert "Код отправлен на di***@cdt.example" in sent.content.decode()
    [letter] = mail.outbox
    assert letter.to == ["director@cdt.example"]
    code = re.search(r": (\d{6})\n", letter.body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    assert holder.post(url, {**new_password, "code": wrong}).status_code == 400
    assert not User.objects.get(pk=director.pk).has_usable_password()

    accepted = holder.post(url, {**new_password, "code": code})
    assert (accepted.status_code, accepted["Location"]) == (302, "/")
    # In, with her password: now she must connect an authenticator before anything else.
    dashboard = holder.get("/dashboard/")
    assert dashboard["Location"] == "/accounts/two-factor/setup/?next=%2Fdashboard%2F"


def test_a_teachers_link_needs_no_code(admin, newcomers):
    teacher = newcomers["teacher"]
    invitation = invitation_issue(
        user=teacher, actor=admin, base_url="http://testserver/"
    ).invitation
    client = Client()
    page = client.get(link_of(invitation)).content.decode()
    assert "Отправить код на e-mail" not in page
    response = client.post(
        link_of(invitation), {"new_password1": "Ёлка-2026-зима", "new_password2": "Ёлка-2026-зима"}
    )
    assert (response.status_code, response["Location"]) == (302, "/")


def test_the_superuser_invites_a_director_from_the_admin(client, superuser, newcomers):
    director = newcomers["director"]
    client.force_login(superuser)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "invite_by_email", "_selected_action": [director.pk]},
        follow=True,
    )
    assert "приглашения отправляются (1)" in response.content.decode()
    [letter] = mail.outbox
    assert letter.to == ["director@cdt.example"]
    issued = AuditEntry.objects.get(action="invitation.issued")
    assert (issued.actor, issued.object_id) == (superuser, str(director.pk))
