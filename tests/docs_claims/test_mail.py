"""README «Decisions» and docs/architecture.md «Mail»: two rules about letters.

- The registration e-mail's subject reaches Sferum exactly as «СФЕРУМ:Регистрация
  организации»: Django would fold the long Cyrillic subject with a line break right after
  «Subject:», which mail readers decode with a leading space; the portal encodes it knowing its
  header name. Both ways out (the portal's own send and the .eml download) carry it.
- The notice of a changed e-mail or phone stays outside the outbox and is sent inside the
  change's transaction: when the mail server refuses it, the change is not kept."""

from __future__ import annotations

import email
import email.policy
import smtplib

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.locmem import EmailBackend

from accounts.models import User
from accounts.services import profile_update
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.documents import build_registration_email
from tests.factories import PASSWORD

SUBJECT = "СФЕРУМ:Регистрация организации"


def subject_as_read(raw: bytes) -> str:
    """The subject as a mail reader shows it (the standard library's modern parser)."""
    return email.message_from_bytes(raw, policy=email.policy.default)["Subject"]


def test_the_registration_subject_arrives_exactly(client, ready_request, admin):
    message = build_registration_email(ready_request)
    raw = message.message().as_bytes()
    assert subject_as_read(raw) == SUBJECT
    assert raw.split(b"\n").count(b"Subject: ") == 0  # no line break right after the name

    # What the portal guards against: Django's own folding reads with a leading space.
    folded = EmailMultiAlternatives.message(message).as_bytes()
    assert subject_as_read(folded) == " " + SUBJECT

    client.force_login(admin)
    eml = client.get("/onboarding/request/message.eml").content
    assert subject_as_read(eml) == SUBJECT


def test_a_contact_change_whose_notice_is_refused_is_not_kept(monkeypatch, teacher):
    teacher.email = "old@example.ru"
    teacher.save(update_fields=["email"])

    def refuse(self, messages):
        raise smtplib.SMTPRecipientsRefused({"old@example.ru": (550, b"mailbox unavailable")})

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    with pytest.raises(PortalError) as refused:
        profile_update(user=teacher, email="new@example.ru", phone="", password=PASSWORD)
    assert refused.value.message.startswith("Письмо-уведомление не отправлено")
    assert refused.value.message.endswith("изменения не сохранены.")
    assert User.objects.get(pk=teacher.pk).email == "old@example.ru"
    assert not AuditEntry.objects.filter(action="profile.updated").exists()

    monkeypatch.undo()
    profile_update(user=teacher, email="new@example.ru", phone="", password=PASSWORD)
    assert User.objects.get(pk=teacher.pk).email == "new@example.ru"
    [notice] = mail.outbox
    assert sorted(notice.to) == ["new@example.ru", "old@example.ru"]
