"""«Мои документы» and the teacher's home read which acts a person must read for all of them at
once (`read_document_ids`), so the pages cost the same queries with one act as with many; the
batch gives, person by person and act by act, the same answer as `readers` (`is_reader`)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from acknowledgements.models import Document
from acknowledgements.selectors import is_reader, my_documents, read_document_ids
from tests.acknowledgements.builders import make_act
from tests.factories import StudyGroupFactory, UserFactory


def test_the_batch_says_what_readers_says_for_every_audience(
    organisation, director, admin, teacher, student, group, outsider
):
    other_teacher = UserFactory(organisation=organisation, roles=[Role.TEACHER])
    StudyGroupFactory(organisation=organisation, name="Другая").teachers.add(other_teacher)
    make_act(organisation, director, title="Для всех")
    make_act(organisation, director, title="Для групп", audience="groups", audience_groups=[group])
    make_act(
        organisation, director, title="Для названных", audience="people",
        audience_people=[other_teacher],
    )  # fmt: skip
    make_act(organisation, director, title="Для ролей", audience="roles", audience_roles=["admin"])
    documents = list(Document.objects.filter(organisation=organisation))
    assert {d.audience for d in documents} >= {"all", "groups", "people", "roles"}
    gone = UserFactory(organisation=organisation, roles=[Role.TEACHER], is_active=False)
    for person in (director, admin, teacher, other_teacher, student, outsider, gone):
        expected = {d.pk for d in documents if is_reader(person, d)}
        assert read_document_ids(person, documents) == expected, person
    # The cases are not all alike: each audience reaches someone and leaves someone out.
    assert read_document_ids(teacher, documents) != read_document_ids(other_teacher, documents)


def test_the_pages_cost_the_same_queries_with_one_act_and_with_five(client, admin, teacher):
    organisation = teacher.organisation
    make_act(organisation, admin, title="Акт 0")
    client.force_login(teacher)
    pages = (reverse("teacher_home"), reverse("my_documents"))
    for url in pages:
        client.get(url)
    counted = {}
    for url in pages:
        with CaptureQueriesContext(connection) as one:
            assert client.get(url).status_code == 200
        counted[url] = len(one.captured_queries)
    for n in range(1, 5):
        make_act(organisation, admin, title=f"Акт {n}")
    assert len(my_documents(teacher)) == 5
    for url in pages:
        with CaptureQueriesContext(connection) as five:
            assert client.get(url).status_code == 200
        assert len(five.captured_queries) == counted[url], url
