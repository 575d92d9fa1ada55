"""Invitations: a one-time link that expires; re-inviting kills the old one."""

import datetime as dt
import io
import re
import subprocess

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from accounts.invitations import invitation_url
from accounts.models import Invitation
from accounts.services import invitation_issue
from tests.factories import UserFactory

NEW_PASSWORD = "Sferum-2026-novyi"


@pytest.fixture
def newcomer(organisation):
    person = UserFactory(
        organisation=organisation,
        username="novikova.ap",
        last_name="Новикова",
        first_name="Анна",
        patronymic="Петровна",
        email="novikova@example.ru",
        roles=["teacher"],
    )
    person.set_unusable_password()
    person.save()
    return person


def link_from_mail() -> str:
    return re.search(r"http://testserver(/invite/\S+/)", mail.outbox[-1].body).group(1)


def accept(client, link, password=NEW_PASSWORD):
    return client.post(link, {"new_password1": password, "new_password2": password})


def test_the_admin_invites_by_email_and_the_link_works_once(client, admin, newcomer):
    client.force_login(admin)
    response = client.post(reverse("person_invite", kwargs={"pk": newcomer.pk}), follow=True)
    # A job sends the letter (at once in tests); the person's page tells its result.
    text = response.content.decode()
    assert "Приглашение отправляется на novikova@example.ru." in text
    assert "Письмо-приглашение на novikova@example.ru: <strong>отправлено</strong>" in text
    assert len(mail.outbox) == 1
    assert mail.outbox[-1].to == ["novikova@example.ru"]
    assert "Приглашение в портал" in mail.outbox[-1].subject
    link = link_from_mail()
    client.logout()

    page = client.get(link).content.decode()
    assert "Добро пожаловать, Анна!" in page and "novikova.ap" in page
    response = accept(client, link)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)
    assert Invitation.objects.get(user=newcomer).used_at is not None

    client.logout()
    again = client.get(link)
    assert again.status_code == 410
    assert "Ссылка-приглашение не действует" in again.content.decode()
    assert accept(client, link, "Another-Pass-2026").status_code == 410
    newcomer.refresh_from_db()
    assert newcomer.check_password(NEW_PASSWORD)


def test_a_refused_email_is_told_and_the_old_link_keeps_working(
    client, admin, newcomer, monkeypatch
):
    old = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")

    def refuse(self, messages):
        raise ConnectionRefusedError("Connection refused by smtp.example.ru")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    client.force_login(admin)
    response = client.post(reverse("person_invite", kwargs={"pk": newcomer.pk}), follow=True)
    text = response.content.decode()
    assert (
        "Письмо-приглашение на novikova@example.ru: <strong>не отправлено</strong> "
        "(нет связи с почтовым сервером (ConnectionRefusedError: "
        "Connection refused by smtp.example.ru))"
    ) in text
    assert list(Invitation.objects.filter(user=newcomer)) == [old.invitation]
    client.logout()
    assert client.get(old.url.removeprefix("http://testserver")).status_code == 200


def test_a_deactivated_person_is_not_invited(client, admin, newcomer):
    newcomer.is_active = False
    newcomer.save()
    client.force_login(admin)
    response = client.post(reverse("person_invite", kwargs={"pk": newcomer.pk}), follow=True)
    assert "Учётная запись отключена: сначала включите её." in response.content.decode()
    assert not Invitation.objects.filter(user=newcomer).exists()


def test_an_expired_link_never_works(client, admin, newcomer):
    issued = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    Invitation.objects.filter(pk=issued.invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    link = issued.url.removeprefix("http://testserver")
    response = client.get(link)
    assert response.status_code == 410
    text = response.content.decode()
    assert "Срок действия ссылки истёк" in text
    assert admin.full_name in text  # whom to ask
    assert accept(client, link).status_code == 410
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()


def test_the_link_lasts_fourteen_days_by_default(admin, newcomer):
    issued = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    lifetime = issued.invitation.expires_at - issued.invitation.created_at
    assert round(lifetime.total_seconds() / 86400, 3) == 14


def test_reinviting_kills_the_old_link(client, admin, newcomer):
    old = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    new = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    old_link = old.url.removeprefix("http://testserver")
    response = client.get(old_link)
    assert response.status_code == 410
    assert "заменена новой" in response.content.decode()
    assert accept(client, old_link).status_code == 410
    assert client.get(new.url.removeprefix("http://testserver")).status_code == 200


def test_a_forged_token_is_refused_and_changes_nothing(client, admin, newcomer):
    issued = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    forged = reverse("invitation_accept", kwargs={"pk": issued.invitation.pk, "token": "0" * 40})
    assert accept(client, forged).status_code == 410
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()


def test_a_deactivated_person_cannot_use_their_link(client, admin, newcomer):
    issued = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    newcomer.is_active = False
    newcomer.save()
    assert client.get(issued.url.removeprefix("http://testserver")).status_code == 410


def test_people_without_email_get_a_printed_sheet_with_a_qr_code_of_their_link(
    client, admin, organisation, tmp_path
):
    import zxingcpp
    from PIL import Image
    from pypdf import PdfReader

    people = [
        UserFactory(organisation=organisation, last_name=name, first_name="Ёлка", roles=["parent"])
        for name in ("Сапёлкина", "О'Нил-Петрова")
    ]
    for person in people:
        person.set_unusable_password()
        person.save()
    client.force_login(admin)
    # A job prints them (at once here); the press leads to the sheet's address, which serves it.
    response = client.post(
        reverse("invitations_print"), {"people": [p.pk for p in people]}, follow=True
    )
    assert [status for _, status in response.redirect_chain] == [302]
    assert response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for person in people:
        assert person.full_name in " ".join(text.split())

    pdf = tmp_path / "slips.pdf"
    pdf.write_bytes(response.content)
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(pdf), str(tmp_path / "page")], check=True)
    decoded = set()
    for png in sorted(tmp_path.glob("page*.png")):
        decoded |= {code.text for code in zxingcpp.read_barcodes(Image.open(png))}
    invitations = Invitation.objects.filter(user__in=people)
    assert len(invitations) == 2
    expected = {invitation_url(inv, "http://testserver/") for inv in invitations}
    assert decoded == expected
    # and each decoded link really works
    for url in decoded:
        assert client.get(url.removeprefix("http://testserver")).status_code == 200
