"""The audit log: written by `log_action`, never changed, read by managers at /audit/."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from cdt_portal.audit import (
    AuditContextMiddleware,
    changes,
    history,
    log_action,
    organisation_entries,
)
from cdt_portal.models import AuditEntry
from tests.helpers import changed_outside_services

AUDIT_URL = "/audit/"


def entry_for(actor, obj, action="test.changed", **data):
    return log_action(actor, obj, action, data)


# --- writing ----------------------------------------------------------------------------------


def test_an_entry_names_who_did_what_to_which_object_and_where(admin, teacher):
    entry = entry_for(admin, teacher, "person.updated", email=["", "a@b.ru"])
    entry.refresh_from_db()
    assert (entry.organisation_id, entry.actor_id, entry.action) == (
        admin.organisation_id,
        admin.pk,
        "person.updated",
    )
    assert entry.actor_name == "Захарова Ольга Викторовна"
    assert entry.content_type == ContentType.objects.get_for_model(User)
    assert (entry.object_id, entry.object_repr) == (str(teacher.pk), "Иванова Софья Николаевна")
    assert entry.data == {"email": ["", "a@b.ru"]}
    assert entry.ip_address is None  # no request: no client address


def test_the_middleware_records_the_requests_client_address_and_forgets_it(rf, admin):
    written = []

    def view(request):
        written.append(entry_for(admin, admin.organisation))
        return HttpResponse("ok")

    AuditContextMiddleware(view)(rf.get("/", REMOTE_ADDR="203.0.113.7"))
    after = entry_for(admin, admin.organisation)
    assert written[0].ip_address == "203.0.113.7"
    assert written[0].organisation_id == admin.organisation_id
    assert after.ip_address is None  # the address does not outlive its request


def test_changes_lists_only_what_differs():
    assert changes({"a": 1, "b": "x"}, {"a": 1, "b": "y", "c": None}) == {"b": ["x", "y"]}


def test_history_is_one_objects_entries_oldest_first(admin, teacher, director):
    first = entry_for(admin, teacher, "person.updated")
    entry_for(admin, director, "person.updated")
    second = entry_for(director, teacher, "person.deactivated")
    assert list(history(teacher)) == [first, second]


def test_an_entry_cannot_be_saved_twice(admin):
    entry = entry_for(admin, admin)
    entry.action = "forged"
    with pytest.raises(ValueError, match="never changed"):
        entry.save()
    entry.refresh_from_db()
    assert entry.action == "test.changed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgresql_refuses_update_and_delete_on_the_audit_table():
    from tests.factories import OrganisationFactory, UserFactory

    person = UserFactory(organisation=OrganisationFactory())
    entry = entry_for(person, person)
    for statement in (
        "UPDATE cdt_portal_auditentry SET action = 'forged' WHERE id = %s",
        "DELETE FROM cdt_portal_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [entry.pk])
    for attempt in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="forged"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    entry.refresh_from_db()
    assert entry.action == "test.changed"
    assert AuditEntry.objects.count() == 1


def test_the_django_admin_shows_the_log_read_only(rf, superuser):
    model_admin = admin.site._registry[AuditEntry]
    request = rf.get("/admin/")
    request.user = superuser
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


# --- reading: /audit/ ---------------------------------------------------------------------------


@pytest.fixture
def logged(admin, director, teacher, outsider):
    """Our organisation: one entry yesterday, three today; and one of another organisation."""
    yesterday = AuditEntry.objects.create(
        organisation=admin.organisation,
        actor=admin,
        actor_name=admin.full_name,
        action="person.created",
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(teacher.pk),
        object_repr=teacher.full_name,
        at=timezone.now() - dt.timedelta(days=1),
    )
    entries = [
        yesterday,
        entry_for(admin, teacher, "person.updated", position=["", "педагог"]),
        entry_for(director, admin, "person.deactivated"),
        entry_for(admin, admin.organisation, "organisation.updated", email=["", "cdt@x.ru"]),
    ]
    entry_for(outsider, outsider, "person.updated", last_name=["Чужой", "Секретный"])
    return entries


def test_managers_see_their_organisations_log_and_nothing_else(client, director, logged):
    client.force_login(director)
    response = client.get(AUDIT_URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Найдено записей: 4" in text
    assert "Секретный" not in text and "Чужой" not in text
    assert "Иванова Софья Николаевна" in text
    assert "e-mail: — → cdt@x.ru" in text


def test_filters_by_person_object_action_and_date(client, admin, director, teacher, logged):
    client.force_login(admin)
    user_type = ContentType.objects.get_for_model(User)

    def found(**params) -> int:
        response = client.get(AUDIT_URL, params)
        assert response.status_code == 200, response.content.decode()[:500]
        return response.context["page_obj"].paginator.count

    assert found(person=director.pk) == 1
    assert found(object_type=user_type.pk) == 3
    assert found(object_type=user_type.pk, object_id=teacher.pk) == 2
    assert found(action="person.deactivated") == 1
    today = timezone.localdate()
    assert found(date_from=f"{today:%d.%m.%Y}") == 3
    assert found(date_to=f"{today - dt.timedelta(days=1):%d.%m.%Y}") == 1


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date_from": "31.02.2026"}, "Введите правильную дату."),
        ({"date_from": "02.12.2026", "date_to": "01.12.2026"}, "Дата «по» раньше даты «с»."),
        ({"person": "abc"}, "Выберите корректный вариант."),
        ({"object_id": "5"}, "Выберите вид объекта."),
    ],
)
def test_a_bad_filter_is_told_in_russian_with_a_400(client, admin, logged, params, message):
    client.force_login(admin)
    response = client.get(AUDIT_URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert client.get("/audit.csv", params).status_code == 400


def test_who_searches_the_actors_name_and_nobody_is_listed(
    client, admin, director, teacher, logged
):
    """At 50,000 people a list of everyone would be the page: «Кто» is a name to search."""
    client.force_login(admin)
    response = client.get(AUDIT_URL, {"who": "денисенко"})
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == 1
    assert [e.actor_id for e in response.context["page_obj"]] == [director.pk]
    by_admin = client.get(AUDIT_URL, {"who": "Захарова Ольга"}).context["page_obj"]
    assert by_admin.paginator.count == 3  # the outsider's entry is not searched
    assert {e.actor_id for e in by_admin} == {admin.pk}
    page = client.get(AUDIT_URL).content.decode()
    assert '<input type="hidden" name="person"' in page
    assert f">{teacher.full_name}</option>" not in page


def test_another_organisations_person_is_not_a_choice(client, admin, outsider, logged):
    client.force_login(admin)
    response = client.get(AUDIT_URL, {"person": outsider.pk})
    assert response.status_code == 400


def test_the_csv_has_every_filtered_entry_for_excel(client, admin, logged):
    client.force_login(admin)
    response = client.get("/audit.csv", {"action": "person.updated"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert rows[0] == ["Когда", "Кто", "Действие", "Объект", "Что изменилось", "IP-адрес"]
    assert len(rows) == 2
    assert rows[1][1] == "Захарова Ольга Викторовна"
    assert rows[1][3] == "Иванова Софья Николаевна"
    assert rows[1][4] == '{"position": ["", "педагог"]}'


def test_organisation_entries_filters_compose(admin, director, logged):
    assert organisation_entries(admin.organisation_id, actor_id=director.pk).count() == 1
    assert organisation_entries(admin.organisation_id, action="nothing.like.this").count() == 0


def test_the_log_page_costs_the_same_queries_at_any_size(
    client, admin, teacher, django_assert_num_queries
):
    client.force_login(admin)
    for _ in range(3):
        entry_for(admin, teacher)
    client.get(AUDIT_URL)  # warm the content-type cache
    changed_outside_services()  # the entries are counted at both sizes, not read back
    with CaptureQueriesContext(connection) as small:
        client.get(AUDIT_URL)
    for _ in range(60):
        entry_for(admin, teacher)  # a newer entry: the count is counted again
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(AUDIT_URL)
