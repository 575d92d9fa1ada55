"""Two administrators at the same instant, on PostgreSQL's row locks.

Each race runs two threads, each with its own database connection; a barrier releases them
together right at the service call. The rules that must hold: one e-mail to Sferum and one
«sent» event per request (the second press finds the first press's job, or, once that job
has sent, is refused), one open request per organisation, and every refusal is a PortalError
(what the views turn into a message), never a database error.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail

from accounts.models import Organisation, Role, User
from cdt_portal.audit import history
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.documents import REGISTRATION_SUBJECT
from onboarding.models import RegistrationRequest, RequestStatus, SentVia
from onboarding.services import request_cancel, request_send_start, request_start
from tests.factories import OrganisationFactory, UserFactory
from tests.onboarding.builders import make_ready_request
from tests.races import POSTGRES_RACES, run_together

pytestmark = POSTGRES_RACES

RACES = 3


def send_job(request_pk: int, actor_pk: int):
    def job(ready):
        registration = RegistrationRequest.objects.select_related("organisation").get(pk=request_pk)
        actor = User.objects.get(pk=actor_pk)
        ready()
        return request_send_start(request=registration, actor=actor, action="send")

    return job


def start_job(organisation_pk: int, actor_pk: int):
    def job(ready):
        organisation = Organisation.objects.get(pk=organisation_pk)
        actor = User.objects.get(pk=actor_pk)
        ready()
        return request_start(organisation=organisation, actor=actor)

    return job


@pytest.fixture(autouse=True)
def empty_outbox():
    del mail.outbox[:]
    yield
    del mail.outbox[:]


def two_administrators(number: int) -> tuple[Organisation, User, User]:
    organisation = OrganisationFactory(email=f"org{number}@example.ru")
    first = UserFactory(
        organisation=organisation, last_name=f"Администратор{number}а", roles=[Role.ADMIN]
    )
    second = UserFactory(
        organisation=organisation, last_name=f"Администратор{number}б", roles=[Role.ADMIN]
    )
    return organisation, first, second


def assert_sent_once(registration: RegistrationRequest, outcomes, sent_before: int):
    """The one job that sent, after checking the second press got that job or a refusal."""
    jobs = {result.pk: result for result, exc in outcomes if exc is None}
    errors = [exc for _, exc in outcomes if exc is not None]
    assert len(jobs) == 1 and len(errors) <= 1, repr(outcomes)
    for error in errors:
        assert isinstance(error, PortalError), repr(error)
        assert "отправить заявку" in error.message
        assert "«Отправлена»" in error.message

    new_mail = mail.outbox[sent_before:]
    assert len(new_mail) == 1, [m.subject for m in new_mail]
    message = new_mail[0]
    assert message.subject == REGISTRATION_SUBJECT
    assert message.to == [settings.SFERUM_REGISTRATION_EMAIL]
    assert message.from_email == (registration.organisation.email or settings.DEFAULT_FROM_EMAIL)

    assert history(registration).filter(action="request.sent").count() == 1
    registration.refresh_from_db()
    assert registration.status == RequestStatus.SENT
    assert registration.sent_via == SentVia.SMTP
    assert registration.message_id == message.extra_headers["Message-ID"]
    assert [name for name, _, _ in message.attachments] == [
        "Письмо о назначении администратора (подписано).png"
    ]
    (job,) = jobs.values()
    return job


def test_two_administrators_sending_at_once_send_one_email():
    for number in range(RACES):
        organisation, first, second = two_administrators(number)
        registration = make_ready_request(organisation, first)
        assert registration.status == RequestStatus.READY
        sent_before = len(mail.outbox)

        outcomes = run_together(
            send_job(registration.pk, first.pk), send_job(registration.pk, second.pk)
        )

        job = assert_sent_once(registration, outcomes, sent_before)
        entry = history(registration).get(action="request.sent")
        assert entry.actor_id == job.started_by_id  # whoever pressed first
        assert entry.data["from"] == RequestStatus.READY
    assert len(mail.outbox) == RACES
    assert AuditEntry.objects.filter(action="request.sent").count() == RACES


def test_the_ready_request_fixture_races_too(ready_request, admin):
    """The conftest's ready request, on a transactional database: the persona admin and a
    second administrator of the same organisation press «Отправить» together."""
    other = UserFactory(
        organisation=admin.organisation, last_name="Второй", roles=[Role.ADMIN, Role.TEACHER]
    )
    assert ready_request.status == RequestStatus.READY
    outcomes = run_together(
        send_job(ready_request.pk, admin.pk), send_job(ready_request.pk, other.pk)
    )
    assert_sent_once(ready_request, outcomes, 0)


def test_two_simultaneous_starts_open_one_request():
    refused = 0
    for number in range(RACES):
        organisation, first, second = two_administrators(number)

        outcomes = run_together(
            start_job(organisation.pk, first.pk), start_job(organisation.pk, second.pk)
        )

        results = [result for result, exc in outcomes if exc is None]
        errors = [exc for _, exc in outcomes if exc is not None]
        assert len(results) == 1 and len(errors) == 1, repr(outcomes)
        assert isinstance(errors[0], PortalError), repr(errors[0])
        assert errors[0].message == "У организации уже есть открытая заявка."
        refused += 1

        requests = RegistrationRequest.objects.filter(organisation=organisation)
        assert requests.count() == 1
        assert requests.get().pk == results[0].pk
        assert requests.get().status == RequestStatus.DRAFT
        entries = AuditEntry.objects.filter(organisation=organisation)
        assert list(entries.values_list("action", "object_id")) == [
            ("request.draft", str(results[0].pk))
        ]
    assert refused == RACES


def test_a_start_after_cancelling_races_cleanly():
    """With the earlier request cancelled, a new one may be opened — still only one."""
    organisation, first, second = two_administrators(9)
    request_cancel(
        request=request_start(organisation=organisation, actor=first), actor=first, reason="x"
    )
    outcomes = run_together(
        start_job(organisation.pk, first.pk), start_job(organisation.pk, second.pk)
    )
    errors = [exc for _, exc in outcomes if exc is not None]
    assert len(errors) == 1 and isinstance(errors[0], PortalError), repr(outcomes)
    open_requests = RegistrationRequest.objects.filter(organisation=organisation).exclude(
        status__in=[RequestStatus.REGISTERED, RequestStatus.CANCELLED]
    )
    assert open_requests.count() == 1
    assert RegistrationRequest.objects.filter(organisation=organisation).count() == 2
