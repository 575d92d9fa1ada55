"""Every e-mail the portal writes, as sent: the portal calls itself «Портал <организация> по
внедрению «Сферума»» (never plain «Сферум», which a parent could take for the official
platform), in the subject, the body and the sender's name, and every date and time is on the
organisation's clock in Russian format (dd.mm.yyyy, HH:MM), in a request or in a worker."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from email.header import decode_header, make_header
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.services import invitation_issue, profile_update
from acknowledgements.services import reminders_start
from cdt_portal.emails import GENERIC_PORTAL_NAME, build_templated, portal_name, sender
from families.services import notice_publish, parent_deadline_set, parent_reminders_send
from onboarding.documents import build_registration_email
from portal.services import weekly_digest_send
from tests.factories import UserFactory

# Each app's letters: the core's folder, and signin's own (its password reset is sent by
# Django's view, outside the outbox).
EMAILS = [
    Path(settings.BASE_DIR) / "templates" / "emails",
    Path(settings.BASE_DIR) / "templates" / "signin" / "emails",
]
NAME = "МКУ ДО «ЦДТ» по внедрению «Сферума»"
ZONE = "Asia/Yekaterinburg"  # two hours ahead of the settings' Europe/Moscow
# «портал «Сферум»», «портале «Сферум»», «Портал «Сферум»»: the old name, taken for Sferum's.
OLD_NAME = re.compile(r"портал\w*\s+«Сферум»", re.IGNORECASE)
# Which template each test below sends; every template in those folders must be here.
TESTED = {
    "invitation", "account_changed", "password_reset", "reminder", "registration_request",
    "parent_reminder", "weekly_digest", "invitation_code", "department_message",
}  # fmt: skip


@pytest.fixture(autouse=True)
def ural(organisation):
    organisation.time_zone = ZONE
    organisation.save(update_fields=["time_zone"])


@pytest.fixture
def newcomer(organisation):
    person = UserFactory(
        organisation=organisation, username="aliev.rm", last_name="Алиев", first_name="Рашид",
        patronymic="Мамед оглы", email="aliev@example.ru", roles=["parent"],
    )  # fmt: skip
    person.set_unusable_password()
    person.save()
    return person


def on_ural_clock(at: dt.datetime) -> str:
    return f"{at.astimezone(zoneinfo.ZoneInfo(ZONE)):%d.%m.%Y %H:%M}"


def on_moscow_clock(at: dt.datetime) -> str:
    return f"{at.astimezone(zoneinfo.ZoneInfo('Europe/Moscow')):%d.%m.%Y %H:%M}"


def from_header(message) -> str:
    return str(make_header(decode_header(message.message()["From"])))


def subject_header(message) -> str:
    return str(make_header(decode_header(message.message()["Subject"])))


def assert_named_well(message) -> None:
    texts = [message.subject, message.body] + [c for c, _ in message.alternatives]
    for text in texts:
        assert not OLD_NAME.search(text), text
    assert not re.search(r"«Сферум»\s*<", from_header(message))


def test_every_email_template_is_tested_here():
    names = {
        p.name.removesuffix("_subject.txt")
        for folder in EMAILS
        for p in folder.glob("*_subject.txt")
    }
    assert names == TESTED
    for path in (p for folder in EMAILS for p in folder.iterdir()):
        assert not OLD_NAME.search(path.read_text(encoding="utf-8")), path.name


def test_the_portal_name():
    class Organisation:
        short_name = "МКУ ДО «ЦДТ»"

    assert portal_name(Organisation()) == f"Портал {NAME}"
    assert portal_name(Organisation(), word="портале") == f"портале {NAME}"
    assert portal_name(None) == GENERIC_PORTAL_NAME == "Портал по внедрению «Сферума»"
    assert portal_name(None, word="портале") == "портале по внедрению «Сферума»"


def test_the_invitation(admin, newcomer):
    from accounts.models import Invitation
    from accounts.services import invitations_email_start

    invitations_email_start(
        organisation=newcomer.organisation, people=[newcomer], actor=admin,
        base_url="http://testserver/",
    )  # fmt: skip
    issued = SimpleNamespace(invitation=Invitation.objects.get(user=newcomer))
    [message] = mail.outbox
    assert message.subject == f"Приглашение в портал {NAME}"
    assert subject_header(message) == message.subject
    # The regulation goes by the name the pages and the reminder give it.
    assert f"Вас приглашают в портал {NAME}: там Положение о «Сферуме», ссылки" in message.body
    assert "Это портал вашей организации, а не сама платформа «Сферум»." in message.body
    expires = issued.invitation.expires_at
    assert f"она действует до {on_ural_clock(expires)} и только один раз" in message.body
    assert on_moscow_clock(expires) not in message.body
    assert from_header(message) == f"Портал {NAME} <{settings.DEFAULT_FROM_EMAIL}>"
    # Someone who did not expect it is told to leave the link alone, not merely not to answer.
    assert message.body.rstrip().endswith(
        "Если вы не ждали этого письма, не переходите по ссылке и никому её не пересылайте."
    )
    assert_named_well(message)


def test_the_invitation_code(director, newcomer):
    from accounts.models import Role
    from accounts.services import invitation_code_start

    newcomer.email = "newcomer@example.ru"
    newcomer.save()
    newcomer.user_roles.update(role=Role.ADMIN)
    invitation = invitation_issue(
        user=newcomer, actor=director, base_url="http://testserver/"
    ).invitation
    invitation_code_start(invitation=invitation)
    [message] = mail.outbox
    assert message.to == ["newcomer@example.ru"]
    assert message.subject == f"Код подтверждения для портала {NAME}"
    code = re.search(r"Ваш код подтверждения для портала .+: (\d{6})\n", message.body).group(1)
    assert "Код действует 30 минут и только для этого приглашения." in message.body
    invitation.refresh_from_db()
    assert invitation.code_sent_to == "newcomer@example.ru" and code not in invitation.code_hash
    assert_named_well(message)


def test_a_worker_writes_the_organisations_clock_whatever_zone_is_active(admin, newcomer):
    """The mailing job runs outside any request: no organisation's zone is active there."""
    issued = invitation_issue(user=newcomer, actor=admin, base_url="http://testserver/")
    for active in ("UTC", "Europe/Moscow", "Asia/Vladivostok"):
        with timezone.override(zoneinfo.ZoneInfo(active)):
            message = build_templated(
                "invitation",
                to=[newcomer.email],
                context={"person": newcomer, "url": issued.url, "invitation": issued.invitation},
            )
        assert f"действует до {on_ural_clock(issued.invitation.expires_at)} " in message.body


def test_the_account_change_notice(newcomer):
    newcomer.set_password("pass-1234")
    newcomer.phone = "+79121112233"
    newcomer.save()
    profile_update(user=newcomer, email=newcomer.email, phone="+79123456789", password="pass-1234")
    [message] = mail.outbox
    assert message.subject == f"Ваш телефон изменён — Портал {NAME}"
    assert f"В вашей учётной записи портала {NAME} (aliev.rm)" in message.body
    assert "- мобильный телефон: +7 912 111-22-33 → +7 912 345-67-89" in message.body
    assert re.search(r"\) \d\d\.\d\d\.\d{4} в \d\d:\d\d изменены контактные данные", message.body)
    assert from_header(message) == f"Портал {NAME} <{settings.DEFAULT_FROM_EMAIL}>"
    assert_named_well(message)


def test_the_account_change_notice_tells_the_time_on_the_organisations_clock(newcomer):
    changed_at = dt.datetime(2025, 12, 31, 20, 30, tzinfo=dt.UTC)  # 01:30 on 1 January in Ural
    message = build_templated(
        "account_changed",
        to=[newcomer.email],
        context={
            "person": newcomer, "actor": newcomer, "by_someone_else": False,
            "email_changed": True, "phone_changed": True, "old_email": "", "new_email": "a@b.ru",
            "old_phone": "", "new_phone": "+79123456789", "changed_at": changed_at,
        },
    )  # fmt: skip
    assert "(aliev.rm) 01.01.2026 в 01:30 изменены контактные данные" in message.body
    assert "- e-mail: не был указан → a@b.ru" in message.body
    assert "- мобильный телефон: не был указан → +7 912 345-67-89" in message.body
    assert message.subject == f"Ваши e-mail и телефон изменены — Портал {NAME}"
    # No address before: the letter went to the new one only, and says nothing of two.
    assert "на прежний и на новый адрес" not in message.body


@pytest.mark.parametrize(
    ("email_changed", "old_email", "new_email", "both"),
    [(True, "old@b.ru", "new@b.ru", True), (False, "a@b.ru", "a@b.ru", False),
     (True, "a@b.ru", "", False)],
)  # fmt: skip
def test_the_account_change_notice_says_two_addresses_only_when_it_went_to_two(
    newcomer, email_changed, old_email, new_email, both
):
    message = build_templated(
        "account_changed",
        to=[newcomer.email],
        context={
            "person": newcomer, "actor": newcomer, "by_someone_else": False,
            "email_changed": email_changed, "phone_changed": not email_changed,
            "old_email": old_email, "new_email": new_email, "old_phone": "",
            "new_phone": "+79123456789", "changed_at": dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
        },
    )  # fmt: skip
    assert ("Письмо отправлено на прежний и на новый адрес." in message.body) is both


def test_the_password_reset(client, teacher):
    teacher.email = "teacher@example.ru"
    teacher.save()
    client.post(reverse("password_reset"), {"email": "teacher@example.ru"})
    [message] = mail.outbox
    assert message.subject == f"Восстановление пароля на портале {NAME}"
    assert f"запросил восстановление пароля на портале {NAME}." in message.body
    [(html, _mimetype)] = message.alternatives
    assert f"запросил восстановление пароля на портале {NAME}.</p>" in html
    assert_named_well(message)


def test_the_reminder(admin, teacher, regulation):
    teacher.email = "teacher@example.ru"
    teacher.save()
    reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    [message] = [m for m in mail.outbox if m.to == ["teacher@example.ru"]]
    assert message.subject == f"Напоминание: ознакомьтесь с Положением о «Сферуме» — Портал {NAME}"
    assert "утверждённым приказом от 30.11.2023 г. № 201-О." in message.body
    assert f"Прочитать и подтвердить ознакомление можно в портале {NAME}:" in message.body
    assert from_header(message) == f"Портал {NAME} <{settings.DEFAULT_FROM_EMAIL}>"
    assert_named_well(message)


def test_the_registration_request_keeps_its_exact_subject_and_sender(ready_request):
    message = build_registration_email(ready_request)
    assert message.subject == "СФЕРУМ:Регистрация организации"
    assert message.from_email == (ready_request.organisation.email or settings.DEFAULT_FROM_EMAIL)
    assert "Мобильный телефон администратора (для получения прав): +7 912 345-67-89" in (
        message.body
    )
    assert "Анкета организации заполнена в электронном виде 20.11.2026." in message.body
    assert_named_well(message)


def test_a_sender_named_in_the_settings_is_kept(settings, organisation):
    settings.DEFAULT_FROM_EMAIL = "Портал ЦДТ <portal@cdt.example>"
    assert sender(organisation) == "Портал ЦДТ <portal@cdt.example>"
    settings.DEFAULT_FROM_EMAIL = "portal@cdt.example"
    assert sender(organisation) == f'"Портал {NAME}" <portal@cdt.example>'
    assert sender(None) == f'"{GENERIC_PORTAL_NAME}" <portal@cdt.example>'


def test_a_person_without_an_organisation_gets_the_generic_name(superuser):
    superuser.email = "root@example.ru"
    message = build_templated(
        "invitation",
        to=[superuser.email],
        context={
            "person": superuser,
            "url": "http://testserver/invite/1/x/",
            "invitation": type("I", (), {"expires_at": timezone.now()})(),
        },
    )
    assert message.subject == "Приглашение в портал по внедрению «Сферума»"
    assert from_header(message) == f"{GENERIC_PORTAL_NAME} <{settings.DEFAULT_FROM_EMAIL}>"


def test_the_parent_reminder(admin, parent):
    parent.email = "parent@example.ru"
    parent.save()
    notice_publish(organisation=admin.organisation, actor=admin, text="Уведомление.")
    due = timezone.localdate() + dt.timedelta(days=10)
    parent_deadline_set(organisation=admin.organisation, actor=admin, kind="notice", due_date=due)
    parent_reminders_send(base_url="http://testserver/")
    [message] = mail.outbox
    assert message.to == ["parent@example.ru"]
    assert message.subject == (
        f"Напоминание: ознакомьтесь с уведомлением об использовании «Сферума» — Портал {NAME}"
    )
    assert f"Это можно сделать в портале {NAME}:" in message.body
    assert f"до {due:%d.%m.%Y}." in message.body
    assert from_header(message) == f"Портал {NAME} <{settings.DEFAULT_FROM_EMAIL}>"
    assert_named_well(message)


def test_the_weekly_digest(director):
    director.email = "director@example.ru"
    director.save()
    weekly_digest_send(base_url="http://testserver/")
    [message] = mail.outbox
    assert message.subject.startswith("Еженедельная сводка о внедрении «Сферума» на ")
    assert message.subject.endswith(f" — Портал {NAME}")
    assert f"Еженедельная сводка портала {NAME}" in message.body
    assert from_header(message) == f"Портал {NAME} <{settings.DEFAULT_FROM_EMAIL}>"
    assert_named_well(message)


def test_the_department_message(admin, department_officer):
    from departments.services import message_send

    admin.email = "admin@example.ru"
    admin.save()
    message_send(actor=department_officer, subject="Срок", text="Завершите до 15.12.")
    [message] = mail.outbox
    assert message.to == ["admin@example.ru"]
    assert message.subject == f"Управление образования: Срок — Портал {NAME}"
    assert "Управление образования: сообщение администраторам «Сферума»" in message.body
    assert "Завершите до 15.12." in message.body
    assert f"на главной странице портала {NAME}: http" in message.body
    assert from_header(message) == f"Портал {NAME} <{settings.DEFAULT_FROM_EMAIL}>"
    assert_named_well(message)
