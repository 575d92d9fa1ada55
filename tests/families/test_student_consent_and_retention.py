"""A student of 14 or older gives their own consent alongside the parent's (ГК РФ ст. 26), and
the nightly job erases a consent's identity and address data once the retention after a
withdrawal or after the end of studies has passed (152-ФЗ ст. 21 ч. 5), keeping the act and
its dates, audited. The clock is moved by passing `now` to the job's service."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.services import person_set_active
from cdt_portal.models import AuditEntry
from families import tasks
from families.models import (
    CONSENT_DATE_FIELDS,
    CONSENT_DETAIL_FIELDS,
    STUDENT_CONSENT_FIELDS,
    ConsentDetails,
    ConsentRecord,
    StudentConsent,
)
from families.services import consent_data_erase, consent_withdraw, student_consent_withdraw
from tests.factories import PASSWORD
from tests.families.builders import (
    CHILD_PASSPORT,
    FILLED_CONSENT,
    consent_details_for,
    give_consent,
    give_own_consent,
    student_consent_details,
    years_ago,
)


def form_data(birth_date: dt.date, password: str = PASSWORD) -> dict:
    data = student_consent_details(birth_date)
    return {
        **data,
        "birth_date": birth_date.isoformat(),
        "id_issued_on": data["id_issued_on"].isoformat(),
        "id_series": "2825",
        "password": password,
        "terms": "on",
    }


# --- the student's own consent -----------------------------------------------------------------


def test_a_15_year_old_gives_own_consent_with_the_password(client, student):
    client.force_login(student)
    url = reverse("student_consent")
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "С 14 лет вы даёте согласие на обработку своих персональных данных сами" in text
    assert "статья 26 Гражданского кодекса РФ" in text

    response = client.post(url, form_data(years_ago(15)), REMOTE_ADDR="10.0.0.15")
    assert response.status_code == 302 and response["Location"] == url
    row = StudentConsent.objects.get()
    assert (row.student, row.action, row.ip_address) == (student, "given", "10.0.0.15")
    assert (row.full_name, row.birth_date) == ("Кузнецов Максим Андреевич", years_ago(15))
    assert (row.id_series, row.id_number) == ("28 25", "112233")
    # The parent's consent is a separate act and is not touched.
    assert not ConsentRecord.objects.exists()
    entry = AuditEntry.objects.get(action="consent.student.given")
    assert entry.actor_id == student.pk and entry.ip_address == "10.0.0.15"
    # Nothing personal in the log.
    assert "112233" not in str(entry.data) and "Советская" not in str(entry.data)

    shown = client.get(url).content.decode()
    assert f"Ваше согласие дано {timezone.localdate():%d.%m.%Y}." in shown
    home = client.get(reverse("family_home")).content.decode()
    assert reverse("student_consent") in home


@pytest.mark.parametrize(
    ("birth_date", "password", "field", "message"),
    [
        (
            years_ago(14, plus_days=-1),  # 14 tomorrow
            PASSWORD,
            "birth_date",
            "Вам нет 14 лет: согласие на обработку ваших персональных данных даёт родитель",
        ),
        (years_ago(15), "wrong", "password", "Неверный пароль. Согласие не записано."),
        (years_ago(15), "", "password", "Обязательное поле."),
        (
            years_ago(15),
            PASSWORD,
            "terms",
            "Отметьте, что принимаете условия простой электронной подписи",
        ),
    ],
)
def test_under_14_or_a_wrong_password_is_refused_and_nothing_is_written(
    client, student, birth_date, password, field, message
):
    client.force_login(student)
    data = form_data(birth_date, password)
    if field == "terms":
        del data["terms"]  # not ticked
    response = client.post(reverse("student_consent"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not StudentConsent.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="consent.").exists()


def test_the_14th_birthday_is_old_enough(student):
    row = give_own_consent(student, years_ago(14))
    assert row.action == "given"


def test_only_a_student_has_the_page(client, parent, teacher):
    for person in (parent, teacher):
        client.force_login(person)
        assert client.get(reverse("student_consent")).status_code == 403


def test_the_student_withdraws_and_a_second_withdrawal_changes_nothing(client, student):
    give_own_consent(student, years_ago(16))
    client.force_login(student)
    url = reverse("student_consent_withdraw")
    assert "Подтверждаю: отзываю согласие" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("student_consent")
    assert list(StudentConsent.objects.values_list("action", flat=True)) == [
        "given",
        "withdrawn",
    ]
    again = client.post(url, follow=True)
    assert "Ваше согласие не действует: отзывать нечего." in again.content.decode()
    assert StudentConsent.objects.count() == 2


def test_the_parents_confirmation_says_a_child_of_14_consents_too(client, parent, student):
    client.force_login(parent)
    url = reverse("consent_give", kwargs={"pk": student.pk})
    older = client.post(
        url,
        {**FILLED_CONSENT, "child_birth_date": years_ago(15).isoformat(), **CHILD_PASSPORT},
    )
    assert older.status_code == 200
    assert "Ребёнку исполнилось 14 лет" in older.content.decode()
    born = years_ago(9)
    younger = client.post(
        url,
        {
            **FILLED_CONSENT,
            "child_birth_date": born.isoformat(),
            "authority_issued_on": (born + dt.timedelta(days=20)).isoformat(),
        },
    )
    assert younger.status_code == 200
    assert "Ребёнку исполнилось 14 лет" not in younger.content.decode()


# --- the retention -----------------------------------------------------------------------------

RETENTION = dt.timedelta(days=settings.CONSENT_RETENTION_DAYS)
NIGHT = dt.timedelta(days=1)  # the erasure runs every night


def identity(details: ConsentDetails) -> dict:
    return {name: getattr(details, name) for name in CONSENT_DETAIL_FIELDS}


def test_a_withdrawn_consents_identity_is_erased_after_the_retention_and_audited(
    parent, student, organisation
):
    given = give_consent(parent, student)
    withdrawn = consent_withdraw(parent=parent, student=student, ip_address=None)
    kept = identity(ConsentDetails.objects.get(record=given))
    assert kept["id_number"] == "345678"

    # More than a night before the retention ends: nothing is erased.
    assert consent_data_erase(now=withdrawn.at + RETENTION - NIGHT - dt.timedelta(hours=1)) == 0
    assert identity(ConsentDetails.objects.get(record=given)) == kept
    assert not AuditEntry.objects.filter(action="consent.data.erased").exists()

    # The last night before it ends: erased, before the retention has passed.
    later = withdrawn.at + RETENTION - NIGHT + dt.timedelta(hours=1)
    assert consent_data_erase(now=later) == 1
    details = ConsentDetails.objects.get(record=given)
    blank = {name: None if name in CONSENT_DATE_FIELDS else "" for name in CONSENT_DETAIL_FIELDS}
    assert identity(details) == blank
    assert details.erased_at == later
    # The acts, their way and their dates stay.
    assert list(ConsentRecord.objects.order_by("at", "pk").values_list("action", "at")) == [
        ("given", given.at),
        ("withdrawn", withdrawn.at),
    ]
    assert (details.method, details.signed_on) == ("online", timezone.localdate())
    entry = AuditEntry.objects.get(action="consent.data.erased")
    assert entry.actor_id is None and entry.organisation_id == organisation.pk
    assert entry.object_id == str(given.pk)
    assert entry.data == {
        "student": student.pk,
        "own": False,
        "reason": "withdrawn",
        "since": timezone.localtime(withdrawn.at).date().isoformat(),
    }

    # The next night finds nothing more to do.
    assert consent_data_erase(now=later + dt.timedelta(days=1)) == 0
    assert AuditEntry.objects.filter(action="consent.data.erased").count() == 1


def test_a_consent_given_again_after_a_withdrawal_keeps_its_own_details(parent, student):
    first = give_consent(parent, student)
    withdrawn = consent_withdraw(parent=parent, student=student, ip_address=None)
    again = give_consent(parent, student)
    assert consent_data_erase(now=withdrawn.at + RETENTION + dt.timedelta(days=1)) == 1
    assert ConsentDetails.objects.get(record=first).erased_at is not None
    fresh = ConsentDetails.objects.get(record=again)
    assert fresh.erased_at is None and fresh.id_number == "345678"


def test_the_end_of_studies_erases_the_parents_and_the_students_own_after_the_retention(
    admin, parent, student
):
    born = years_ago(15)  # the same child in both consents
    given = give_consent(parent, student, details=consent_details_for(born))
    own = give_own_consent(student, born)
    person_set_active(person=student, actor=admin, active=False)
    left = AuditEntry.objects.get(action="person.deactivated").at

    assert consent_data_erase(now=left + RETENTION - NIGHT - dt.timedelta(minutes=1)) == 0
    assert consent_data_erase(now=left + RETENTION - NIGHT + dt.timedelta(minutes=1)) == 2
    assert ConsentDetails.objects.get(record=given).parent_full_name == ""
    own.refresh_from_db()
    assert {name: getattr(own, name) for name in STUDENT_CONSENT_FIELDS} == {
        name: None if name in ("birth_date", "id_issued_on") else ""
        for name in STUDENT_CONSENT_FIELDS
    }
    assert sorted(
        AuditEntry.objects.filter(action="consent.data.erased").values_list(
            "data__own", "data__reason"
        )
    ) == [(False, "studies_ended"), (True, "studies_ended")]


def test_a_consent_withdrawn_and_then_its_student_switched_off_is_erased_for_the_withdrawal(
    admin, parent, student
):
    """Both reasons hold: the entry names the withdrawal, which came first, and its day."""
    give_consent(parent, student)
    withdrawn = consent_withdraw(parent=parent, student=student, ip_address=None)
    person_set_active(person=student, actor=admin, active=False)
    left = AuditEntry.objects.get(action="person.deactivated").at
    assert consent_data_erase(now=left + RETENTION) == 1
    entry = AuditEntry.objects.get(action="consent.data.erased")
    assert (entry.data["reason"], entry.data["since"]) == (
        "withdrawn",
        timezone.localtime(withdrawn.at).date().isoformat(),
    )


def test_a_student_switched_back_on_keeps_the_consent(admin, parent, student):
    give_consent(parent, student)
    person_set_active(person=student, actor=admin, active=False)
    person_set_active(person=student, actor=admin, active=True)
    assert consent_data_erase(now=timezone.now() + RETENTION * 2) == 0
    assert ConsentDetails.objects.get().erased_at is None


def test_the_managers_pdf_of_an_erased_consent_is_gone_and_the_list_says_so(
    client, admin, parent, student
):
    given = give_consent(parent, student)
    withdrawn = consent_withdraw(parent=parent, student=student, ip_address=None)
    later = withdrawn.at + RETENTION + dt.timedelta(days=1)
    consent_data_erase(now=later)
    client.force_login(admin)
    pdf = client.get(reverse("consent_record_pdf", kwargs={"pk": given.pk}))
    assert pdf.status_code == 404
    listing = client.get(reverse("consents")).content.decode()
    assert f"(сведения удалены {timezone.localtime(later):%d.%m.%Y})" in listing


def test_the_nightly_task_runs_the_erasure(parent, student):
    given = give_consent(parent, student)
    withdrawn = consent_withdraw(parent=parent, student=student, ip_address=None)
    ConsentRecord.objects.filter(pk=withdrawn.pk).update(
        at=timezone.now() - RETENTION - dt.timedelta(days=1)
    )
    ConsentRecord.objects.filter(pk=given.pk).update(
        at=timezone.now() - RETENTION - dt.timedelta(days=2)
    )
    tasks.erase_consent_data.call_local()
    assert ConsentDetails.objects.get(record=given).erased_at is not None


def test_the_privacy_policy_states_the_erasure_and_the_students_own_consent(client, parent):
    client.force_login(parent)
    text = client.get(reverse("privacy")).content.decode()
    days = settings.CONSENT_RETENTION_DAYS
    assert (
        f"не позднее чем через {days} дней после отзыва согласия, после окончания обучения "
        "(отключения учётной записи обучающегося) или после удаления связи родителя с ребёнком "
        "портал в ночь"
    ) in text
    assert "портал в ночь перед окончанием этого срока автоматически удаляет из согласий" in text
    assert "обучающийся, достигший 14 лет, даёт и собственное согласие" in text


def test_the_managers_list_shows_the_students_own_consent_and_its_withdrawal(
    client, admin, director, parent, student
):
    """The operator must know a student's own consent and act on its withdrawal: the list of
    consents shows it beside the parent's, and its acts in the history."""
    born = years_ago(15)  # the same child in both consents
    give_consent(parent, student, details=consent_details_for(born))
    own = give_own_consent(student, born)
    client.force_login(director)
    page = client.get(reverse("consents"))
    assert page.status_code == 200
    text = page.content.decode()
    assert (
        '<div class="small mt-1" data-own-consent>своё согласие обучающегося: '
        '<span class="badge text-bg-success">'
        f"дано {timezone.localtime(own.at):%d.%m.%Y}</span></div>"
    ) in text
    assert (
        f"{timezone.localtime(own.at):%d.%m.%Y %H:%M} — дано (своё согласие обучающегося)" in text
    )

    withdrawn = student_consent_withdraw(student=student, ip_address=None)
    client.force_login(admin)
    text = client.get(reverse("consents")).content.decode()
    assert (
        f'<span class="badge text-bg-danger">отозвано {timezone.localtime(withdrawn.at):%d.%m.%Y}'
        "</span></div>"
    ) in text
    assert text.count("(своё согласие обучающегося)") == 2


def test_a_student_without_an_own_consent_shows_none(client, admin, student):
    client.force_login(admin)
    text = client.get(reverse("consents")).content.decode()
    assert "data-own-consent" not in text and "своё согласие обучающегося" not in text


@pytest.mark.parametrize("hour", [0, 3, 4, 14, 23])
def test_the_nightly_run_never_keeps_a_withdrawn_consent_past_its_retention(parent, student, hour):
    """Whatever the hour of the withdrawal, the first nightly run (03:20) that erases the
    consent comes before the retention has passed (152-ФЗ ст. 21 ч. 5: «не превышающий»), and
    no run erases it more than a night early."""
    given = give_consent(parent, student)
    withdrawn = consent_withdraw(parent=parent, student=student, ip_address=None)
    local = timezone.localtime(withdrawn.at)
    at = local.replace(hour=hour, minute=40, second=0, microsecond=0)
    ConsentRecord.objects.filter(pk=withdrawn.pk).update(at=at)
    ConsentRecord.objects.filter(pk=given.pk).update(at=at - NIGHT)  # given the day before
    night = (at + dt.timedelta(days=1)).replace(hour=3, minute=20)
    while consent_data_erase(now=night) == 0:
        night += NIGHT
        assert night < at + 2 * RETENTION, "never erased"
    assert at + RETENTION - NIGHT <= night < at + RETENTION
    assert ConsentDetails.objects.get(record=given).erased_at == night


@pytest.mark.parametrize(("days", "wrong"), [(30, False), (1, False), (31, True), (0, True)])
def test_a_retention_the_law_does_not_allow_is_refused_by_the_checks(settings, days, wrong):
    from django.core.checks import run_checks

    settings.CONSENT_RETENTION_DAYS = days
    errors = [e.id for e in run_checks() if e.id == "families.E001"]
    assert errors == (["families.E001"] if wrong else [])
