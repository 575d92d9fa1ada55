"""The paper-record and reminder pages list the people still to read a page at a time, with a
search, so they stay the same size (and cost the same queries) whatever the staff."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User, UserRole
from acknowledgements.models import AckMethod, Acknowledgement, ReminderRun
from tests.acknowledgements.builders import reminder_letters


def add_pending(organisation, count: int, *, start: int = 0) -> list[User]:
    """`count` teachers who have not read the regulation, every other one with an e-mail."""
    people = User.objects.bulk_create(
        [
            User(
                organisation=organisation,
                username=f"pending{n}",
                last_name=f"Ожидаева{n:03d}",
                first_name="Анна",
                position="Педагог",
                email=f"pending{n}@example.ru" if n % 2 == 0 else "",
            )
            for n in range(start, start + count)
        ]
    )
    UserRole.objects.bulk_create([UserRole(user=p, role=Role.TEACHER) for p in people])
    return people


@pytest.fixture
def pending_120(organisation, regulation, admin, teacher):
    """120 pending readers: the admin, the teacher and 118 more."""
    return add_pending(organisation, 118)


def radios(html: str) -> list[int]:
    return [
        int(pk)
        for pk in re.findall(r'type="radio" name="person" id="person-\d+" value="(\d+)"', html)
    ]


def pending_rows(html: str) -> list[str]:
    return re.findall(r"<td>([^<]+)</td>\n            <td class=\"d-none d-sm-table-cell\">", html)


# --- /regulation/paper/ -----------------------------------------------------------------------


def test_the_paper_page_lists_fifty_pending_people_a_page(client, admin, pending_120):
    client.force_login(admin)
    url = reverse("acknowledgement_paper")
    first = client.get(url).content.decode()
    assert len(radios(first)) == 50
    assert "Не ознакомились: 120." in first
    assert "Страница 1 из 3" in first and 'href="?page=2"' in first
    third = client.get(url, {"page": 3}).content.decode()
    assert radios(third) == [p.pk for p in pending_120[98:]]  # rows 101–120


def test_the_paper_page_search_narrows_the_list_and_its_pages_keep_it(
    client, admin, teacher, pending_120
):
    client.force_login(admin)
    url = reverse("acknowledgement_paper")
    found = client.get(url, {"q": "ожидаева11"}).content.decode()
    assert radios(found) == [p.pk for p in pending_120[110:]]  # Ожидаева110 … Ожидаева117
    assert "Не ознакомились: 8 (по запросу «ожидаева11»)." in found
    by_first_name = client.get(url, {"q": "софья"}).content.decode()  # the teacher
    assert radios(by_first_name) == [teacher.pk]
    paged = client.get(url, {"q": "Педагог"}).content.decode()  # a position: 118 people
    assert 'href="?q=%D0%9F%D0%B5%D0%B4%D0%B0%D0%B3%D0%BE%D0%B3&amp;page=2"' in paged
    assert "Никого не найдено." in client.get(url, {"q": "Несуществующая"}).content.decode()


def test_a_paper_post_records_the_person_it_names_from_any_page(
    client, admin, regulation, pending_120
):
    client.force_login(admin)
    person = pending_120[-1]  # on page 3, not on the page the form was posted from
    response = client.post(
        reverse("acknowledgement_paper") + "?page=1",
        {"person": person.pk, "paper_date": "2023-12-04", "version": regulation.pk},
    )
    assert (response.status_code, response["Location"]) == (302, reverse("acknowledgement_list"))
    ack = Acknowledgement.objects.get()
    assert (ack.person, ack.method, ack.acknowledged_on, ack.recorded_by) == (
        person,
        AckMethod.PAPER,
        dt.date(2023, 12, 4),
        admin,
    )
    # No longer pending: not listed, and a second POST naming them is refused.
    page = client.get(reverse("acknowledgement_paper"), {"page": 3}).content.decode()
    assert person.pk not in radios(page) and "Не ознакомились: 119." in page
    again = client.post(
        reverse("acknowledgement_paper"),
        {"person": person.pk, "paper_date": "2023-12-05", "version": regulation.pk},
    )
    assert again.status_code == 400
    assert "Выберите сотрудника из списка." in again.content.decode()
    assert Acknowledgement.objects.count() == 1


def test_a_refused_paper_post_keeps_the_choice_on_its_page(client, admin, regulation, pending_120):
    client.force_login(admin)
    person = pending_120[60]  # row 63: page 2
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(
        reverse("acknowledgement_paper") + "?page=2",
        {"person": person.pk, "paper_date": f"{tomorrow}", "version": regulation.pk},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "не может быть позже сегодняшней" in html
    assert f'value="{person.pk}" checked' in html
    assert not Acknowledgement.objects.exists()


def test_a_paper_post_without_a_person_says_so(client, admin, regulation, pending_120):
    client.force_login(admin)
    response = client.post(
        reverse("acknowledgement_paper"), {"paper_date": "2023-12-04", "version": regulation.pk}
    )
    assert response.status_code == 400
    assert "Обязательное поле." in response.content.decode()
    assert not Acknowledgement.objects.exists()


# --- /regulation/remind/ ----------------------------------------------------------------------


def test_the_reminder_page_lists_fifty_pending_people_a_page(client, admin, pending_120):
    client.force_login(admin)
    url = reverse("acknowledgement_remind")
    first = client.get(url).content.decode()
    assert len(pending_rows(first)) == 50
    # Counted over everyone pending, not the page: 59 of the 118 have an e-mail.
    assert "Письмо с напоминанием получат: 59." in first
    assert "Без e-mail: 61 — напомните им лично" in first
    assert "Отправить напоминания" in first
    third = client.get(url, {"page": 3}).content.decode()
    assert pending_rows(third) == [p.full_name for p in pending_120[98:]]


def test_the_reminder_page_search_narrows_the_list(client, admin, pending_120):
    client.force_login(admin)
    url = reverse("acknowledgement_remind")
    found = client.get(url, {"q": "Ожидаева11"}).content.decode()
    assert pending_rows(found) == [p.full_name for p in pending_120[110:]]
    assert "Не ознакомились: 8 (по запросу «Ожидаева11»)" in found
    assert "Письмо с напоминанием получат: 59." in found  # the whole run, whatever the search


def test_the_reminder_results_are_paged_and_searched_too(client, admin, organisation, pending_120):
    run = ReminderRun.objects.create(
        version=organisation.documents.get().versions.get(),
        number=1,
        on_date=timezone.localdate(),
        started_by=admin,
        base_url="http://testserver/",
        finished_at=timezone.now(),
    )
    reminder_letters(run, pending_120, "sent")
    client.force_login(admin)
    url = reverse("acknowledgement_remind")
    page = client.get(url, {"rpage": 3}).content.decode()
    results = re.findall(r"<td>([^<]+)</td>\n              <td>отправлено</td>", page)
    assert results == [p.full_name for p in pending_120[100:]]  # 118 results: 18 on page 3
    assert "Напоминания отправлены: 118." in page
    assert 'href="?rpage=2"' in page and 'href="?rpage=3&amp;page=2"' in page
    found = client.get(url, {"q": "Ожидаева117"}).content.decode()
    assert re.findall(r"<td>([^<]+)</td>\n              <td>отправлено</td>", found) == [
        pending_120[-1].full_name
    ]


# --- the same queries at every size ------------------------------------------------------------


@pytest.mark.parametrize("extra", [10, 140])
def test_the_paper_page_costs_the_same_queries_at_every_size(
    extra, client, admin, organisation, regulation, django_assert_num_queries
):
    add_pending(organisation, extra)
    client.force_login(admin)
    url = reverse("acknowledgement_paper")
    client.get(url)
    with django_assert_num_queries(PAPER_QUERIES):
        response = client.get(url, {"page": 2 if extra > 50 else 1})
    assert response.status_code == 200


@pytest.mark.parametrize("extra", [10, 140])
def test_the_reminder_page_costs_the_same_queries_at_every_size(
    extra, client, admin, organisation, regulation, django_assert_num_queries
):
    people = add_pending(organisation, extra)
    run = ReminderRun.objects.create(
        version=regulation,
        number=1,
        on_date=timezone.localdate(),
        started_by=admin,
        base_url="http://testserver/",
        finished_at=timezone.now(),
    )
    reminder_letters(run, people, "sent")
    client.force_login(admin)
    url = reverse("acknowledgement_remind")
    client.get(url)
    with django_assert_num_queries(REMIND_QUERIES):
        response = client.get(url)
    assert response.status_code == 200


# Session, person, organisation, roles; the version; the count, the page and its (empty)
# acknowledgements.
PAPER_QUERIES = 8
# The same eight, the e-mail counts, the last run, its job, and the run's results: their count,
# the counts by status and the page.
REMIND_QUERIES = 14
