"""The administrator's list, CSV, reminders and paper signatures."""

import csv
import datetime as dt
import io
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, UserRole
from acknowledgements.models import AckMethod, Acknowledgement, ReminderRun
from acknowledgements.services import acknowledgement_confirm
from cdt_portal.audit import history
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def confirmed_teacher(teacher, regulation):
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    return teacher


def test_the_list_counts_who_has_and_has_not_confirmed(client, admin, confirmed_teacher):
    client.force_login(admin)
    page = client.get(reverse("acknowledgement_list")).content.decode()
    assert "1 из 2" in page  # the admin and the teacher read it; the director approved it
    assert "50%" in page
    pending = client.get(reverse("acknowledgement_list") + "?status=pending").content.decode()
    assert admin.full_name in pending and confirmed_teacher.full_name not in pending
    done = client.get(reverse("acknowledgement_list") + "?status=confirmed").content.decode()
    assert confirmed_teacher.full_name in done and admin.full_name not in done
    found = client.get(reverse("acknowledgement_list") + "?q=Иванова").content.decode()
    assert confirmed_teacher.full_name in found and admin.full_name not in found


def test_the_dashboard_shows_the_same_numbers(client, director, confirmed_teacher, admin):
    client.force_login(director)
    page = client.get(reverse("dashboard")).content.decode()
    assert "1 из 2" in page


def test_the_csv_opens_in_excel(client, admin, confirmed_teacher, regulation):
    client.force_login(admin)
    response = client.get(reverse("acknowledgement_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=utf-8''" in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["№", "Ф.И.О.", "Должность", "Дата ознакомления", "Способ", "Кто записал"]
    by_name = {row[1]: row for row in rows[1:]}
    ack = Acknowledgement.objects.get(person=confirmed_teacher)
    assert by_name[confirmed_teacher.full_name][3] == f"{ack.acknowledged_on:%d.%m.%Y}"
    assert by_name[confirmed_teacher.full_name][4] == "в портале"
    # The form the patronymic tells («не ознакомлен(а)» only where it tells nothing).
    assert by_name[admin.full_name][4] == f"не ознакомлен{admin.gender_suffix}"
    assert admin.gender_suffix in ("", "а")


def test_reminders_go_to_those_who_have_not_confirmed(
    client, admin, confirmed_teacher, organisation, regulation
):
    confirmed_teacher.email = "teacher@example.ru"
    confirmed_teacher.save()
    admin.email = "admin@example.ru"
    admin.save()
    no_email = UserFactory(organisation=organisation, last_name="Безпочтова", roles=["teacher"])
    client.force_login(admin)

    page = client.get(reverse("acknowledgement_remind")).content.decode()
    assert "admin@example.ru" in page and "Безпочтова" in page
    assert mail.outbox == []  # the confirmation page sends nothing

    response = client.post(reverse("acknowledgement_remind"), follow=True)
    assert [m.to for m in mail.outbox] == [["admin@example.ru"]]
    message = mail.outbox[0]
    assert "ознакомьтесь с Положением" in message.subject
    assert "http://testserver/regulation/" in message.body
    assert "утверждённым приказом от 30.11.2023 г. № 201-О." in message.body
    text = response.content.decode()
    assert "Напоминания отправлены: 1." in text
    assert no_email.full_name in text
    reminded = history(regulation).get(action="version.reminded")
    assert reminded.actor == admin
    assert reminded.data == {
        "run": 1,
        "sent": 1,
        "without_email": 1,
        "failed": 0,
        "unconfirmed": 0,
    }


def test_a_failed_reminder_is_reported_by_name_and_the_others_still_go(
    client, admin, teacher, regulation, settings, monkeypatch
):
    admin.email = "admin@example.ru"
    admin.save()
    teacher.email = "teacher@example.ru"
    teacher.save()
    real_send = EmailBackend.send_messages

    def flaky(self, messages):
        if messages[0].to == ["admin@example.ru"]:
            raise smtplib.SMTPResponseException(451, b"Mailbox busy, try later")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", flaky)
    client.force_login(admin)
    text = client.post(reverse("acknowledgement_remind"), follow=True).content.decode()
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]
    reason = "451 Mailbox busy, try later"
    assert f"<td>{admin.full_name}</td>\n              <td>не отправлено: {reason}</td>" in text
    assert "Напоминания отправлены: 1." in text
    # A 4xx answer is temporary: tried again MAIL_SEND_RETRIES (3) times, then failed.
    assert ReminderRun.objects.get().deliveries.get(person=admin).attempts == 4


def test_paper_signature_is_recorded_with_its_date_and_who_recorded_it(
    client, admin, teacher, regulation
):
    client.force_login(admin)
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": teacher.pk, "paper_date": "2023-12-04", "version": regulation.pk},
    )
    assert response.status_code == 302
    ack = Acknowledgement.objects.get(person=teacher)
    assert ack.method == AckMethod.PAPER
    assert ack.acknowledged_on == dt.date(2023, 12, 4)
    assert ack.recorded_by == admin
    page = client.get(reverse("acknowledgement_list")).content.decode()
    assert "04.12.2023" in page and "на бумаге" in page


@pytest.mark.parametrize(
    ("paper_date", "message"),
    [
        (
            lambda: timezone.localdate() + dt.timedelta(days=1),
            "не может быть позже сегодняшней",
        ),
        (lambda: dt.date(2023, 11, 29), "не может быть раньше даты приказа (30.11.2023)"),
    ],
)
def test_a_paper_date_in_the_future_or_before_the_order_is_refused(
    client, admin, teacher, regulation, paper_date, message
):
    client.force_login(admin)
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": teacher.pk, "paper_date": f"{paper_date()}", "version": regulation.pk},
    )
    assert message in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_paper_for_someone_who_already_confirmed_is_refused(
    client, admin, confirmed_teacher, regulation
):
    client.force_login(admin)
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": confirmed_teacher.pk, "paper_date": "2023-12-04", "version": regulation.pk},
    )
    assert "Выберите сотрудника из списка." in response.content.decode()
    assert Acknowledgement.objects.get().method == AckMethod.ONLINE


def test_paper_for_a_person_of_another_organisation_is_refused(client, admin, outsider, regulation):
    client.force_login(admin)
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": outsider.pk, "paper_date": "2023-12-04", "version": regulation.pk},
    )
    assert "Выберите сотрудника из списка." in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_teachers_cannot_record_paper_for_anyone(client, teacher, admin, regulation):
    client.force_login(teacher)
    response = client.post(
        reverse("acknowledgement_paper"),
        {"person": admin.pk, "paper_date": "2023-12-04", "version": regulation.pk},
    )
    assert response.status_code == 403
    assert not Acknowledgement.objects.exists()


def make_readers(organisation, count, start=0):
    people = User.objects.bulk_create(
        [
            User(
                organisation=organisation,
                username=f"reader{n}",
                last_name=f"Читателева{n:03d}",
                first_name="Анна",
            )
            for n in range(start, start + count)
        ]
    )
    UserRole.objects.bulk_create([UserRole(user=p, role="teacher") for p in people])
    return people


def test_the_list_is_paged_and_keeps_its_filter(client, admin, regulation, organisation):
    make_readers(organisation, 60)
    client.force_login(admin)
    first = client.get(reverse("acknowledgement_list") + "?status=pending").content.decode()
    assert "Страница 1 из 2" in first
    assert "status=pending&amp;page=2" in first
    second = client.get(reverse("acknowledgement_list") + "?status=pending&page=2").content.decode()
    assert "Читателева059" in second and "Читателева000" not in second
    assert "62 из 62" not in second and "0 из 62" in second


def queries_per_page(client, urls) -> dict[str, int]:
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
            assert response.status_code == 200, url
            if response.streaming:  # the CSV's rows are read as it is sent
                b"".join(response.streaming_content)
        counts[url] = len(queries)
    return counts


def test_the_list_and_dashboard_queries_do_not_grow_with_staff(
    client, admin, teacher, regulation, organisation
):
    """The same number of queries for 7 readers as for 127, a part of them confirmed."""
    urls = [
        reverse("acknowledgement_list"),
        reverse("acknowledgement_list") + "?status=confirmed",
        reverse("acknowledgement_csv"),
        reverse("dashboard"),
        reverse("people"),
    ]
    client.force_login(admin)
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    make_readers(organisation, 5)
    queries_per_page(client, urls)  # the first visit fills the session's and the caches
    few = queries_per_page(client, urls)
    more = make_readers(organisation, 120, start=5)
    Acknowledgement.objects.bulk_create(
        Acknowledgement(
            version=regulation,
            person=person,
            method=AckMethod.PAPER,
            acknowledged_on=dt.date(2024, 1, 15),
            recorded_by=admin,
            text_sha256=regulation.text_sha256,
        )
        for person in more[:40]
    )
    assert queries_per_page(client, urls) == few


def test_the_csv_neutralises_formulas(client, admin, regulation, organisation):
    UserFactory(
        organisation=organisation,
        last_name='=HYPERLINK("http://evil.example","x")',
        first_name="+Анна",
        position="@SUM(A1)",
        roles=["teacher"],
    )
    client.force_login(admin)
    response = client.get(reverse("acknowledgement_csv"))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    hostile = next(row for row in rows if "HYPERLINK" in row[1])
    assert hostile[1].startswith("'=HYPERLINK")
    assert hostile[2] == "'@SUM(A1)"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
