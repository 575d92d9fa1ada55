"""The department's pages: its institutions' numbers (equal to each institution's own
dashboard), sorting, search, the XLSX export, a page per institution, the message and who
read it, and never a person of an institution but its administrators."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Department, Organisation, User
from acknowledgements.models import Acknowledgement, DocumentVersion
from departments.models import DepartmentMessage, MessageReceipt
from departments.selectors import institution_rows
from onboarding.models import RequestStatus
from onboarding.selectors import rollout_summary
from tests.helpers import changed_outside_services

from .builders import build_institution

STAGES = {
    "alpha": dict(
        staff=6, confirmed=4, verified=2, groups=3, linked=1, families=5, informed=3,
        consents=2, request=RequestStatus.SENT, read_by_past=True, notice_deadline_past=True,
    ),
    "beta": dict(
        staff=3, confirmed=None, verified=0, groups=0, linked=0, families=2, informed=0,
        consents=0,
    ),
    "gamma": dict(
        staff=4, confirmed=4, verified=4, groups=2, linked=2, families=1, informed=1,
        consents=1, request=RequestStatus.REGISTERED,
    ),
}  # fmt: skip


@pytest.fixture
def institutions(department):
    return {slug: build_institution(department, slug, **stage) for slug, stage in STAGES.items()}


@pytest.fixture
def officer_client(department_officer) -> Client:
    client = Client()
    client.force_login(department_officer)
    return client


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_numbers_are_each_institutions_own_dashboard_numbers(
    department, institutions, organisation
):
    """A recount: the grouped queries of the list give what each institution's dashboard
    (`rollout_summary`, one institution at a time) gives."""
    rows = {row.organisation.slug: row for row in institution_rows(department)}
    assert set(rows) == {"alpha", "beta", "gamma", organisation.slug}
    for slug, row in rows.items():
        summary = rollout_summary(Organisation.objects.get(slug=slug))
        assert (row.staff, row.teachers, row.groups, row.parents, row.consents) == (
            summary.staff, summary.teachers.verified, summary.groups,
            summary.families.informed, summary.families.consents,
        ), slug  # fmt: skip
        assert row.staff_overdue == summary.staff_overdue, slug
        assert row.registration_status == (
            summary.registration.status if summary.registration else ""
        ), slug


def test_the_numbers_as_built(department, institutions):
    rows = {row.organisation.slug: row for row in institution_rows(department)}
    alpha = rows["alpha"]
    assert (alpha.staff.done, alpha.staff.total, alpha.staff.percent) == (4, 6, 67)
    assert (alpha.teachers.done, alpha.groups.done, alpha.parents.done) == (2, 1, 3)
    assert (alpha.consents.done, alpha.consents.total) == (2, 5)
    assert (alpha.staff_overdue, alpha.parents_overdue) == (2, ["уведомление"])
    assert (alpha.registration_label, rows["beta"].registration_label) == (
        "Отправлена", "не начата"
    )  # fmt: skip
    assert (rows["beta"].staff.done, rows["beta"].staff.total) == (0, 3)
    assert rows["gamma"].overdue is False


def test_overview_lists_only_the_departments_institutions(
    officer_client, institutions, other_organisation
):
    response = officer_client.get("/department/")
    assert response.status_code == 200
    shown = re.findall(r'data-institution="([^"]+)"', response.content.decode())
    assert shown == ["cdt", "alpha", "beta", "gamma"]  # by name: «МКУ ДО «ЦДТ»» first
    assert other_organisation.short_name not in response.content.decode()
    # «0 из 3» stays on one line in a narrow column, as each count does.
    cells = re.findall(r"<td[^>]*>(?:<span[^>]*>)?\d+ из \d+", response.content.decode())
    assert cells and all("text-nowrap" in cell for cell in cells), cells


@pytest.mark.parametrize(
    "params, expected",
    [
        # Ties keep the order by name, either way («МКУ…» before «Учреждение…»).
        ("sort=staff", ["cdt", "beta", "alpha", "gamma"]),
        ("sort=-staff", ["gamma", "alpha", "cdt", "beta"]),
        ("sort=registration", ["cdt", "beta", "alpha", "gamma"]),
        ("sort=-overdue", ["alpha", "cdt", "beta", "gamma"]),
        ("q=альфа", []),
        ("q=ALPHA", ["alpha"]),
        ("q=учреждение gamma", ["gamma"]),
        ("sort=nonsense", ["cdt", "alpha", "beta", "gamma"]),
    ],
)
def test_sort_and_search(officer_client, institutions, params, expected):
    response = officer_client.get(f"/department/?{params}")
    assert response.status_code == 200
    assert re.findall(r'data-institution="([^"]+)"', response.content.decode()) == expected


def test_institution_page_shows_numbers_and_administrators_only(officer_client, institutions):
    alpha = institutions["alpha"]
    admin = User.objects.get(username="alpha-teacher-0")
    response = officer_client.get(f"/department/institutions/{alpha.slug}/")
    assert response.status_code == 200
    text = text_of(response)
    assert "4 из 6 (67%)" in text
    assert admin.full_name in text and admin.email in text


def test_another_departments_institution_is_404(officer_client, other_organisation):
    other = Department.objects.create(slug="uo2", full_name="Другое", short_name="Другое")
    other_organisation.department = other
    other_organisation.save(update_fields=["department"])
    assert (
        officer_client.get(f"/department/institutions/{other_organisation.slug}/").status_code
        == 404
    )
    assert officer_client.get("/department/institutions/no-such/").status_code == 404


def test_xlsx_export_has_every_institution_and_its_numbers(officer_client, institutions):
    response = officer_client.get("/department/institutions.xlsx?sort=-staff")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == (
        "Организация", "Мессенджер", "Заявка на регистрацию", "Дата",
        "Ознакомлены с Положением", "Сотрудников", "%",
    )  # fmt: skip
    assert [r[0] for r in rows[1:]] == [
        "Учреждение gamma",
        "Учреждение alpha",
        "МКУ ДО «ЦДТ»",
        "Учреждение beta",
    ]
    assert rows[2][1] == "MAX"  # a new organisation's default (issue 21)
    assert rows[2][4:7] == (4, 6, 67)
    assert rows[2][15:] == (2, "уведомление")


def test_no_personal_data_of_an_institutions_people_reaches_the_department(
    officer_client, institutions, department_officer, director, teacher, parent, group
):
    """Every department page and the export, with a message read by one administrator: no
    surname, full name, e-mail or phone of a staff member, student or parent appears; the
    administrators' names and contacts do, on their institution's page only."""
    from departments.services import message_read, message_send

    message = message_send(actor=department_officer, subject="Срок", text="До 15.12")
    alpha_admin = User.objects.get(username="alpha-teacher-0")
    message_read(reader=alpha_admin, message=message)

    administrators = {u.pk for o in Organisation.objects.all() for u in o.platform_administrators}
    people = User.objects.exclude(pk__in=administrators).exclude(organisation=None)
    assert people.count() == 30  # 26 built, and the director, teacher, student, parent
    pages = [
        "/department/",
        "/department/?sort=-consents",
        "/department/messages/",
        f"/department/messages/{message.pk}/",
        *[f"/department/institutions/{o.slug}/" for o in Organisation.objects.all()],
    ]
    bodies = []
    for url in pages:
        response = officer_client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content.decode())
    export = officer_client.get("/department/institutions.xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(export.content))
    bodies.append(" ".join(str(c) for r in workbook.active.iter_rows(values_only=True) for c in r))
    everything = "\n".join(bodies)
    leaks = [
        (person.username, value)
        for person in people
        for value in (person.last_name, person.full_name, person.email, str(person.phone))
        if value and value in everything
    ]
    assert leaks == []
    assert alpha_admin.full_name in everything  # the contacts are there, so the check can see


def test_overview_queries_are_few_and_the_same_at_any_size(
    department, officer_client, django_assert_max_num_queries, django_assert_num_queries
):
    """Counted (every institution changed) and kept (none changed): each costs the same at
    both sizes, counting at most 16 queries (15, and one for the chart of confirmations per
    week, the same at any size: tests/acknowledgements/test_weekly_chart.py)."""
    small = dict(staff=2, confirmed=1, verified=1, groups=1, linked=1, families=1, informed=1,
                 consents=1, request=RequestStatus.DRAFT)  # fmt: skip
    build_institution(department, "one", **small)
    officer_client.get("/department/")  # the session's first write is not counted
    changed_outside_services()
    with django_assert_max_num_queries(16) as counted:
        assert officer_client.get("/department/").status_code == 200
    with CaptureQueriesContext(connection) as kept:
        officer_client.get("/department/")
    assert len(kept.captured_queries) < len(counted.captured_queries)
    for n in range(6):
        larger = {**small, "staff": 12, "families": 9, "confirmed": 7, "read_by_past": True}
        build_institution(department, f"more{n}", **larger)
    changed_outside_services()
    with django_assert_num_queries(len(counted.captured_queries)):
        response = officer_client.get("/department/")
    assert len(re.findall(r'data-institution="', response.content.decode())) == 8
    with django_assert_num_queries(len(kept.captured_queries)):
        officer_client.get("/department/")


def test_only_the_institutions_that_changed_are_counted_again(
    department, institutions, admin, teacher, officer_client
):
    """A change in one institution (a service writes its audit entry) recounts that one; the
    others' numbers are kept, not counted again: a row added around the services to another
    institution does not show (every real change goes through a service and its entry)."""
    from acknowledgements.services import acknowledgement_record_paper
    from tests.acknowledgements.builders import make_version

    version = make_version(admin.organisation, admin, approve=True)
    before = {r.organisation.slug: r.staff for r in institution_rows(department)}
    acknowledgement_record_paper(
        version=version, person=teacher, paper_date=version.order_date, recorded_by=admin
    )
    alpha_version = DocumentVersion.objects.get(document__organisation__slug="alpha")
    Acknowledgement.objects.create(
        version=alpha_version, person=User.objects.get(username="alpha-teacher-5"),
        method="paper", acknowledged_on=alpha_version.order_date, recorded_by=admin,
        text_sha256=alpha_version.text_sha256,
    )  # fmt: skip
    after = {r.organisation.slug: r.staff for r in institution_rows(department)}
    assert after["cdt"] == type(before["cdt"])(before["cdt"].done + 1, before["cdt"].total)
    assert {k: v for k, v in after.items() if k != "cdt"} == {
        k: v for k, v in before.items() if k != "cdt"
    }


def test_department_message_end_to_end(officer_client, admin, organisation, institutions):
    """Sent to every institution's administrators, read by one, seen by the department."""
    response = officer_client.post(
        "/department/messages/", {"subject": "До 15.12", "text": "Завершите ознакомление."}
    )
    message = DepartmentMessage.objects.get()
    assert (response.status_code, response["Location"]) == (
        302, f"/department/messages/{message.pk}/"
    )  # fmt: skip
    assert set(message.institutions.values_list("slug", flat=True)) == {
        "cdt", "alpha", "beta", "gamma"
    }  # fmt: skip
    detail = text_of(officer_client.get(f"/department/messages/{message.pk}/"))
    assert "Прочитали в 0 из 4 организаций." in detail

    admin_client = Client()
    admin_client.force_login(admin)
    dashboard = admin_client.get("/dashboard/")
    assert f'data-department-message="{message.pk}"' in dashboard.content.decode()
    read = admin_client.post(f"/department-messages/{message.pk}/read/")
    assert (read.status_code, read["Location"]) == (302, "/dashboard/")
    assert list(MessageReceipt.objects.values_list("reader", flat=True)) == [admin.pk]
    assert "data-department-message" not in admin_client.get("/dashboard/").content.decode()

    detail = text_of(officer_client.get(f"/department/messages/{message.pk}/"))
    assert "Прочитали в 1 из 4 организаций." in detail
    assert admin.full_name in detail


@pytest.mark.parametrize(
    "data, error",
    [
        ({"subject": "", "text": "Текст"}, "Укажите тему сообщения."),
        ({"subject": "Тема", "text": ""}, "Напишите текст сообщения."),
        ({"subject": "Т" * 201, "text": "Текст"}, "Тема — не длиннее 200 знаков."),
    ],
)
def test_bad_message_is_refused_and_sends_nothing(officer_client, organisation, data, error):
    response = officer_client.post("/department/messages/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert DepartmentMessage.objects.count() == 0


def test_a_message_twice_is_refused_with_400(officer_client, organisation):
    data = {"subject": "До 15.12", "text": "Завершите ознакомление."}
    officer_client.post("/department/messages/", data)
    response = officer_client.post("/department/messages/", data)
    assert response.status_code == 400
    assert "Такое же сообщение уже отправлено" in response.content.decode()
    assert DepartmentMessage.objects.count() == 1


def test_another_departments_message_is_404(officer_client, organisation, outsider):
    other = Department.objects.create(slug="uo2", full_name="Другое", short_name="Другое")
    stranger = User.objects.create(
        username="stranger", department=other, last_name="Чужая", first_name="Анна"
    )
    foreign = DepartmentMessage.objects.create(
        department=other, author=stranger, author_name="Чужая Анна", subject="Т", text="Т"
    )
    assert officer_client.get(f"/department/messages/{foreign.pk}/").status_code == 404
    outsider_client = Client()
    outsider_client.force_login(outsider)
    assert outsider_client.post(f"/department-messages/{foreign.pk}/read/").status_code == 404
    assert MessageReceipt.objects.count() == 0


def test_the_sent_list_counts_institutions_not_readers(
    officer_client, department_officer, admin, organisation, institutions
):
    """Two administrators of one institution read the message: one institution of four has."""
    from departments.services import message_read, message_send
    from tests.factories import UserFactory

    message = message_send(actor=department_officer, subject="Срок", text="До 15.12")
    second = UserFactory(organisation=organisation, roles=["admin"])
    message_read(reader=admin, message=message)
    message_read(reader=second, message=message)
    page = text_of(officer_client.get("/department/messages/"))
    assert "прочитали в 1 из 4 организаций" in page
