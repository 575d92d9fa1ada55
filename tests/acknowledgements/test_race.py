"""Two requests at the same instant, on PostgreSQL's row locks.

Each race runs two threads, each with its own database connection; a barrier releases them
together right at the service call. The rules that must hold: one acknowledgement per person
and version, one approved version per document, and every refusal is a PortalError (what
the views turn into a message), never a database error.
"""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Role, User
from acknowledgements.models import AckMethod, Acknowledgement, DocumentVersion, VersionStatus
from acknowledgements.services import (
    acknowledgement_confirm,
    acknowledgement_record_paper,
    version_approve,
)
from cdt_portal.audit import history
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.acknowledgements.builders import make_version
from tests.factories import PASSWORD, OrganisationFactory, UserFactory
from tests.races import POSTGRES_RACES, run_together

pytestmark = POSTGRES_RACES

RACES = 5


def load(version_pk: int, person_pk: int) -> tuple[DocumentVersion, User]:
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_pk)
    person = User.objects.get(pk=person_pk)
    person.roles  # noqa: B018 — the role query runs before the race, not in it
    return version, person


def confirm_job(version_pk: int, person_pk: int):
    def job(ready):
        version, person = load(version_pk, person_pk)
        ready()
        return acknowledgement_confirm(
            version=version, person=person, password=PASSWORD, ip_address="127.0.0.1",
            user_agent="t",
        )  # fmt: skip

    return job


def paper_job(version_pk: int, person_pk: int, recorder_pk: int, paper_date: dt.date):
    def job(ready):
        version, person = load(version_pk, person_pk)
        recorder = User.objects.get(pk=recorder_pk)
        ready()
        return acknowledgement_record_paper(
            version=version, person=person, paper_date=paper_date, recorded_by=recorder
        )

    return job


def approve_job(version_pk: int, actor_pk: int):
    def job(ready):
        version = DocumentVersion.objects.get(pk=version_pk)
        actor = User.objects.get(pk=actor_pk)
        ready()
        return version_approve(version=version, actor=actor)

    return job


def race_teachers(organisation) -> list[User]:
    """RACES teachers of the organisation, one for each race, told apart by their names."""
    return [
        UserFactory(organisation=organisation, last_name=f"Педагог{i}", roles=[Role.TEACHER])
        for i in range(RACES)
    ]


@pytest.fixture
def setting():
    """An organisation, its director, RACES teachers and the approved regulation."""
    organisation = OrganisationFactory()
    director = UserFactory(organisation=organisation, roles=[Role.DIRECTOR])
    teachers = race_teachers(organisation)
    version = make_version(organisation, director, approve=True)
    return organisation, director, teachers, version


def test_two_simultaneous_online_confirmations_record_one(setting):
    _, _, teachers, version = setting
    for teacher in teachers:
        outcomes = run_together(
            confirm_job(version.pk, teacher.pk), confirm_job(version.pk, teacher.pk)
        )
        errors = [exc for _, exc in outcomes if exc is not None]
        assert errors == [], f"{teacher.last_name}: {errors!r}"
        acks = Acknowledgement.objects.filter(version=version, person=teacher)
        assert acks.count() == 1, teacher.last_name
        created = sorted(created for _, created in (result for result, _ in outcomes))
        assert created == [False, True], teacher.last_name
        assert {ack.pk for ack, _ in (result for result, _ in outcomes)} == {acks.get().pk}
        assert acks.get().method == AckMethod.ONLINE
    assert Acknowledgement.objects.filter(version=version).count() == RACES
    # The click that found the acknowledgement already there wrote nothing.
    assert AuditEntry.objects.filter(action="acknowledgement.confirmed").count() == RACES


def test_two_simultaneous_paper_records_record_one(setting):
    _, director, teachers, version = setting
    paper_date = dt.date(2024, 1, 15)
    for teacher in teachers[:3]:
        outcomes = run_together(
            paper_job(version.pk, teacher.pk, director.pk, paper_date),
            paper_job(version.pk, teacher.pk, director.pk, paper_date),
        )
        results = [result for result, exc in outcomes if exc is None]
        errors = [exc for _, exc in outcomes if exc is not None]
        assert len(results) == 1 and len(errors) == 1, f"{teacher.last_name}: {outcomes!r}"
        assert isinstance(errors[0], PortalError), repr(errors[0])
        assert "уже ознакомлен" in errors[0].message
        acks = Acknowledgement.objects.filter(version=version, person=teacher)
        assert acks.count() == 1
        ack = acks.get()
        assert ack.pk == results[0].pk
        assert (ack.method, ack.acknowledged_on) == (AckMethod.PAPER, paper_date)
        assert list(history(ack).values_list("action", flat=True)) == [
            "acknowledgement.paper_recorded"
        ]
    assert AuditEntry.objects.filter(action="acknowledgement.paper_recorded").count() == 3


def test_online_and_paper_at_once_record_one(setting):
    _, director, teachers, version = setting
    for teacher in teachers[:3]:
        online, paper = run_together(
            confirm_job(version.pk, teacher.pk),
            paper_job(version.pk, teacher.pk, director.pk, dt.date(2024, 1, 15)),
        )
        assert online[1] is None, repr(online[1])  # confirming never fails on a duplicate
        ack = Acknowledgement.objects.get(version=version, person=teacher)
        _, created = online[0]
        if created:  # online came first: the paper record is refused
            assert isinstance(paper[1], PortalError), repr(paper[1])
            assert ack.method == AckMethod.ONLINE
        else:  # paper came first: the confirmation finds it
            assert paper[1] is None, repr(paper[1])
            assert ack.method == AckMethod.PAPER and ack.pk == paper[0].pk
        assert history(ack).count() == 1  # whichever came first, it alone is logged


def test_two_simultaneous_approvals_of_one_draft_approve_it_once(setting):
    _, director, _, previous = setting
    draft = make_version(previous.document.organisation, director, approve=False, number_text="7-О")
    outcomes = run_together(approve_job(draft.pk, director.pk), approve_job(draft.pk, director.pk))

    # The later press finds the approval under way and its job, as a double click does (no
    # error), or, when the job was quicker, the version approved (refused with a message).
    for _, exc in outcomes:
        assert exc is None or isinstance(exc, PortalError), repr(exc)
    assert any(exc is None for _, exc in outcomes)
    assert history(draft).filter(action="version.approval_started").count() == 1
    approved = DocumentVersion.objects.filter(
        document=previous.document, status=VersionStatus.APPROVED
    )
    assert list(approved.values_list("pk", flat=True)) == [draft.pk]
    previous.refresh_from_db()
    assert previous.status == VersionStatus.SUPERSEDED
    assert history(draft).filter(action="version.approved").count() == 1
    assert history(previous).filter(action="version.superseded").count() == 1
    draft.refresh_from_db()
    with draft.order_pdf.open("rb") as stored:
        assert stored.read().startswith(b"%PDF")


def test_two_drafts_approved_at_once_leave_one_approved_version(setting):
    """Two managers approve two different drafts at the same moment. Either one is refused
    with a message, or the later one supersedes the earlier; never a database error and never
    two approved versions."""
    organisation, director, _, previous = setting
    first = make_version(organisation, director, approve=False, number_text="7-О")
    second = make_version(organisation, director, approve=False, number_text="8-О")
    outcomes = run_together(approve_job(first.pk, director.pk), approve_job(second.pk, director.pk))

    for _, exc in outcomes:
        assert exc is None or isinstance(exc, PortalError), repr(exc)
    assert any(exc is None for _, exc in outcomes)
    statuses = dict(
        DocumentVersion.objects.filter(document=previous.document).values_list("pk", "status")
    )
    assert list(statuses.values()).count(VersionStatus.APPROVED) == 1, statuses
    assert statuses[previous.pk] == VersionStatus.SUPERSEDED
