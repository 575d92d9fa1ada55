"""Names, titles and numbers are one line (cdt_portal.validators.SingleLine): a line break
sent through a one-line field, which only a hand-made request can do, is refused with a
Russian message and a 400, and nothing changes; a name stored with one before this rule is
made one line where it goes into an e-mail header."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Messenger, Organisation
from cdt_portal.emails import build_templated, sender
from cdt_portal.models import AuditEntry
from cdt_portal.validators import single_line

MESSAGE = "Введите текст в одну строку: без переносов строк и управляющих символов."


@pytest.mark.parametrize("value", ["Ива\nнова", "Ива\r\nнова", "Ива\tнова", "Ива\x1bнова"])
def test_a_control_character_is_refused(value):
    with pytest.raises(ValidationError) as refused:
        single_line(value)
    assert refused.value.messages == [MESSAGE]


def test_ordinary_names_pass():
    for value in ("Иванова-Петрова", "МКУ ДО «ЦДТ»", "№ 201-О", "О.Б. Денисенко", ""):
        single_line(value)


def test_the_person_form_refuses_a_line_break_and_changes_nothing(client, admin, teacher):
    client.force_login(admin)
    response = client.post(
        reverse("person_edit", kwargs={"pk": teacher.pk}),
        {
            "last_name": "Ива\nнова", "first_name": teacher.first_name,
            "patronymic": teacher.patronymic, "position": "", "email": "", "phone": "",
            "roles": sorted(teacher.roles),
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    teacher.refresh_from_db()
    assert teacher.last_name == "Иванова"
    assert not AuditEntry.objects.filter(action="person.updated").exists()


def test_the_organisation_form_refuses_a_line_break_and_changes_nothing(
    client, admin, organisation
):
    client.force_login(admin)
    response = client.post(
        reverse("organisation_settings"),
        {
            "full_name": organisation.full_name, "short_name": "МКУ ДО\n«ЦДТ»",
            "head_position": "Директор", "head_name": "О.Б. Денисенко",
            "email": "cdt@example.ru", "phone": "", "time_zone": "Europe/Moscow",
            "messenger": Messenger.MAX,
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert MESSAGE in response.content.decode()
    assert Organisation.objects.get(pk=organisation.pk).short_name == "МКУ ДО «ЦДТ»"
    assert not AuditEntry.objects.filter(action="organisation.updated").exists()


def test_a_name_stored_with_a_line_break_is_one_line_in_the_sender(settings, organisation):
    settings.DEFAULT_FROM_EMAIL = "portal@cdt.example"
    Organisation.objects.filter(pk=organisation.pk).update(short_name="МКУ ДО\n«ЦДТ»")
    organisation.refresh_from_db()
    assert "\n" not in sender(organisation)
    letter = build_templated(
        "account_changed",
        to=["ivanova@cdt.example"],
        context={"organisation": organisation},
    )
    assert "\n" not in letter.from_email
    letter.message()  # Django refuses a header with a line break (BadHeaderError)
