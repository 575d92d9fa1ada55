"""Every writing service of onboarding's services leaves exactly one audit entry, a refusal or
a repeated click leaves none, and one transition table drives both the services' refusals and
the request page's buttons. The module's calls are watched (`tests/audit_observer.py`): its
last test checks that each service wrote the action declared for it. (The families' services:
tests/families/test_audit.py.)"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from cdt_portal.uploads import CheckedUpload
from onboarding import services
from onboarding.models import (
    TRANSITIONS,
    RegistrationRequest,
    RequestStatus,
    SferumStatus,
    TeacherSferumStatus,
    Transition,
)
from onboarding.selectors import registration_eml
from tests import audit_observer
from tests.audit_observer import Audit, assert_entry
from tests.onboarding.builders import PNG_SCAN, give_letterhead

# Each public function of onboarding's services (the package onboarding/services/) that
# writes, and the audit action it writes.
AUDITED_SERVICES = {
    "request_start": "request.draft",
    "request_update_details": "request.details.changed",
    "request_prepare_letter": "request.awaiting_signature",
    "request_mark_ready": "request.ready",
    "request_confirm_delivered": "request.sent",
    "request_scan_refused": "request.scan.refused",
    "request_confirm_sent": "request.sent",
    "request_return": "request.returned",
    "request_register": "request.registered",
    "request_cancel": "request.cancelled",
    "teacher_status_advance": "sferum_status.changed",
    # The sending job: queued, then its attempt, then "request.sent" ("request.unconfirmed"
    # when the server went silent, "request.send.refused" when it refused).
    "request_send_start": "request.send.queued",
    "request_send_run": "request.send.attempt",
    # Issue 12, §5.1: the checklist of local acts and programmes.
    "amendment_programme_update": "amendment.updated",
    "amendment_act_add": "amendment.act.added",
    "amendment_act_update": "amendment.updated",
    "amendment_act_remove": "amendment.act.removed",
}
# Public functions that write no audit entry of their own, and why.
NOT_AUDITED: dict[str, str] = {}

# The sending job's own entries, written before the request's.
SEND_JOB_ENTRIES = ("request.send.queued", "request.send.attempt")


S = RequestStatus
TODAY = timezone.localdate


observed = audit_observer.observed_fixture("onboarding")


def send(registration: RegistrationRequest, admin: User, action: str = "send"):
    """«Отправить»: the job, run at once in tests, then the request as it is after it."""
    services.request_send_start(request=registration, actor=admin, action=action)
    registration.refresh_from_db()
    return registration


def request_entries(audit: Audit) -> list[AuditEntry]:
    return [entry for entry in audit.new() if entry.action not in SEND_JOB_ENTRIES]


def assert_request_entry(entry, registration, actor, before, after, comment="") -> None:
    assert_entry(
        entry,
        actor=actor,
        action=f"request.{after}",
        obj=registration,
        organisation=registration.organisation,
        data={"from": before, "to": after, "comment": comment},
    )


# --- every writing service, its exact entry -----------------------------------------------


def test_the_request_services_write_one_entry_each(organisation, admin):
    give_letterhead(organisation)  # the letter needs the organisation's contacts
    audit = Audit()
    registration = services.request_start(organisation=organisation, actor=admin)
    assert_request_entry(audit.only(), registration, admin, "", S.DRAFT)

    audit = Audit()
    services.request_update_details(
        request=registration,
        actor=admin,
        full_name="Захарова Ольга Викторовна",
        position="методист",
        phone="+79123456789",
    )
    assert_entry(
        audit.only(),
        actor=admin,
        action="request.details.changed",
        obj=registration,
        organisation=organisation,
        data={
            "admin_position": ["", "методист"],
            "admin_phone": ["", "+7 912 345-67-89"],
        },
    )

    audit = Audit()
    registration = services.request_prepare_letter(request=registration, actor=admin)
    assert_request_entry(audit.only(), registration, admin, S.DRAFT, S.AWAITING_SIGNATURE)

    audit = Audit()
    registration = services.request_mark_ready(
        request=registration,
        actor=admin,
        scan=CheckedUpload(PNG_SCAN, "image/png", "png"),
        questionnaire_filled_on=dt.date(2026, 11, 20),
        letter=registration.letter_pdf.name,
    )
    assert_request_entry(
        audit.only(),
        registration,
        admin,
        S.AWAITING_SIGNATURE,
        S.READY,
        "анкета заполнена 20.11.2026",
    )
    assert registration.message_id  # fixed when the request became ready

    audit = Audit()
    message_id = registration.message_id
    registration = send(registration, admin)
    assert registration.message_id == message_id
    [entry] = request_entries(audit)
    assert_request_entry(
        entry,
        registration,
        admin,
        S.READY,
        S.SENT,
        f"отправлена на info@sferum.ru, Message-ID {message_id}",
    )

    audit = Audit()
    registration = services.request_return(request=registration, actor=admin, reason=" Нет печати ")
    assert_request_entry(audit.only(), registration, admin, S.SENT, S.RETURNED, "Нет печати")

    registration = services.request_prepare_letter(request=registration, actor=admin)
    registration = services.request_mark_ready(
        request=registration,
        actor=admin,
        scan=CheckedUpload(PNG_SCAN, "image/png", "png"),
        questionnaire_filled_on=dt.date(2026, 11, 20),
        letter=registration.letter_pdf.name,
    )
    assert registration.message_id != message_id  # the corrected request is a new message

    audit = Audit()
    registration = services.request_confirm_sent(request=registration, actor=admin, sent_on=TODAY())
    assert_request_entry(
        audit.only(),
        registration,
        admin,
        S.READY,
        S.SENT,
        f"отправлена из почты организации {TODAY():%d.%m.%Y}",
    )

    audit = Audit()
    registration = services.request_register(
        request=registration, actor=admin, registered_on=TODAY(), signed_in_confirmed=True
    )
    assert_entry(
        audit.only(),
        actor=admin,
        action=f"request.{S.REGISTERED}",
        obj=registration,
        organisation=registration.organisation,
        data={
            "from": S.SENT,
            "to": S.REGISTERED,
            "comment": "права администратора получены на +7 912 345-67-89",
            "signed_in_with_letter_phone": True,
        },
    )


def test_cancelling_writes_one_entry(ready_request, admin):
    audit = Audit()
    services.request_cancel(request=ready_request, actor=admin, reason=" Передумали ")
    assert_request_entry(audit.only(), ready_request, admin, S.READY, S.CANCELLED, "Передумали")


def test_each_sferum_step_writes_one_entry_about_the_teacher(teacher, admin, organisation):
    steps = [
        (teacher, SferumStatus.NOT_STARTED, SferumStatus.PROFILE_CREATED),
        (teacher, SferumStatus.PROFILE_CREATED, SferumStatus.VERIFICATION_REQUESTED),
        (admin, SferumStatus.VERIFICATION_REQUESTED, SferumStatus.VERIFIED),
    ]
    for actor, before, after in steps:
        audit = Audit()
        services.teacher_status_advance(person=teacher, to=after, actor=actor)
        assert_entry(
            audit.only(),
            actor=actor,
            action="sferum_status.changed",
            obj=teacher,
            organisation=organisation,
            data={"from": before, "to": after},
        )


def test_a_refused_scan_writes_one_entry(ready_request, admin, organisation):
    audit = Audit()
    services.request_scan_refused(
        request=ready_request, actor=admin, filename="scan.exe", size=12, reason="Не PDF."
    )
    assert_entry(
        audit.only(),
        actor=admin,
        action="request.scan.refused",
        obj=ready_request,
        organisation=organisation,
        data={"filename": "scan.exe", "size": 12, "reason": "Не PDF."},
    )


def test_the_sending_job_writes_its_queueing_its_attempt_and_the_send(
    ready_request, admin, organisation
):
    audit = Audit()
    job = services.request_send_start(request=ready_request, actor=admin, action="send")
    queued, attempt, sent = audit.new()  # the job runs at once here (tests/conftest.py)
    assert_entry(
        queued,
        actor=admin,
        action="request.send.queued",
        obj=ready_request,
        organisation=organisation,
        data={"action": "send", "key": job.key},
    )
    assert_entry(
        attempt,
        actor=admin,
        action="request.send.attempt",
        obj=ready_request,
        organisation=organisation,
        data={"job": job.pk, "action": "send"},
    )
    assert (sent.action, sent.object_id) == ("request.sent", str(ready_request.pk))


def test_the_checklist_services_write_one_entry_each(admin, organisation, group):
    audit = Audit()
    item = services.amendment_programme_update(
        group=group, actor=admin, state="amended", amended_on=TODAY()
    )
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.updated",
        obj=item,
        organisation=organisation,
        data={"state": ["todo", "amended"], "amended_on": [None, str(TODAY())]},
    )

    audit = Audit()
    act = services.amendment_act_add(organisation=organisation, actor=admin, title="Положение")
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.act.added",
        obj=act,
        organisation=organisation,
        data={"title": "Положение"},
    )

    audit = Audit()
    services.amendment_act_update(item=act, actor=admin, state="todo", amended_on=None, note="н")
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.updated",
        obj=act,
        organisation=organisation,
        data={"note": ["", "н"]},
    )

    audit = Audit()
    services.amendment_act_remove(item=act, actor=admin)
    assert_entry(
        audit.only(),
        actor=admin,
        action="amendment.act.removed",
        obj=act,
        organisation=organisation,
        data={"title": "Положение", "state": "todo", "amended_on": None, "note": "н"},
    )


# --- a repeated click and a refusal write nothing ------------------------------------------


def in_state(registration: RegistrationRequest, status: str) -> RegistrationRequest:
    """The request put into `status` directly, to try an action from there."""
    RegistrationRequest.objects.filter(pk=registration.pk).update(status=status)
    registration.refresh_from_db()
    return registration


def rows() -> dict:
    """What the services may change, to compare before and after a refusal."""
    return {
        "requests": list(RegistrationRequest.objects.values_list("pk", "status", "message_id")),
        "statuses": list(TeacherSferumStatus.objects.values_list("person_id", "status")),
    }


def test_a_second_click_that_changes_nothing_writes_nothing(ready_request, admin):
    registration = in_state(ready_request, S.AWAITING_SIGNATURE)
    letter = registration.letter_pdf.name
    before = rows()

    audit = Audit()
    services.request_update_details(
        request=registration,
        actor=admin,
        full_name=registration.admin_full_name,
        position=registration.admin_position,
        phone="8 912 345 67 89",  # the same number, written another way
    )
    assert audit.new() == []
    assert rows() == before
    registration.refresh_from_db()
    assert registration.letter_pdf.name == letter  # not made anew for nothing


def _second_open_request(w):
    return lambda: services.request_start(organisation=w.organisation, actor=w.admin)


def _letter_without_a_phone(w):
    services.request_cancel(request=w.ready, actor=w.admin, reason="")
    draft = services.request_start(organisation=w.organisation, actor=w.admin)
    return lambda: services.request_prepare_letter(request=draft, actor=w.admin)


def _questionnaire_in_the_future(w):
    awaiting = in_state(w.ready, S.AWAITING_SIGNATURE)
    return lambda: services.request_mark_ready(
        request=awaiting,
        actor=w.admin,
        scan=CheckedUpload(PNG_SCAN, "image/png", "png"),
        questionnaire_filled_on=TODAY() + dt.timedelta(days=1),
        letter=awaiting.letter_pdf.name,
    )


def _sent_before_it_was_ready(w):
    return lambda: services.request_confirm_sent(
        request=w.ready, actor=w.admin, sent_on=TODAY() - dt.timedelta(days=400)
    )


def _send_without_a_mail_server(w):
    w.settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    return lambda: services.request_send_start(request=w.ready, actor=w.admin, action="send")


def _return_without_a_reason(w):
    sent = in_state(w.ready, S.SENT)
    return lambda: services.request_return(request=sent, actor=w.admin, reason=" ")


def _registered_in_the_future(w):
    sent = in_state(w.ready, S.SENT)
    return lambda: services.request_register(
        request=sent,
        actor=w.admin,
        registered_on=TODAY() + dt.timedelta(days=1),
        signed_in_confirmed=True,
    )


def _sferum_step_skipped(w):
    return lambda: services.teacher_status_advance(
        person=w.teacher, to=SferumStatus.VERIFICATION_REQUESTED, actor=w.teacher
    )


def _sferum_step_for_someone_else(w):
    return lambda: services.teacher_status_advance(
        person=w.teacher, to=SferumStatus.PROFILE_CREATED, actor=w.admin
    )


def _teacher_verifying_themselves(w):
    services.teacher_status_advance(
        person=w.teacher, to=SferumStatus.PROFILE_CREATED, actor=w.teacher
    )
    services.teacher_status_advance(
        person=w.teacher, to=SferumStatus.VERIFICATION_REQUESTED, actor=w.teacher
    )
    return lambda: services.teacher_status_advance(
        person=w.teacher, to=SferumStatus.VERIFIED, actor=w.teacher
    )


def _unknown_sferum_step(w):
    return lambda: services.teacher_status_advance(person=w.teacher, to="hacked", actor=w.teacher)


REFUSALS = [
    _second_open_request,
    _letter_without_a_phone,
    _questionnaire_in_the_future,
    _sent_before_it_was_ready,
    _send_without_a_mail_server,
    _return_without_a_reason,
    _registered_in_the_future,
    _sferum_step_skipped,
    _sferum_step_for_someone_else,
    _teacher_verifying_themselves,
    _unknown_sferum_step,
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda case: case.__name__.strip("_"))
def test_a_refusal_writes_nothing(case, settings, organisation, admin, teacher, ready_request):
    world = SimpleNamespace(
        settings=settings, organisation=organisation, admin=admin, teacher=teacher,
        ready=ready_request,
    )  # fmt: skip
    call = case(world)
    before = rows()
    audit = Audit()
    with pytest.raises(PortalError):
        call()
    assert audit.new() == []
    assert rows() == before


# --- one transition table for the services and the page -----------------------------------


def action_calls(registration: RegistrationRequest, admin: User) -> dict:
    """One valid call per action of the table, so only the request's state can refuse it."""
    return {
        "update_details": lambda: services.request_update_details(
            request=registration, actor=admin, full_name="Другая", position="", phone="+79220001122"
        ),
        "prepare_letter": lambda: services.request_prepare_letter(
            request=registration, actor=admin
        ),
        "mark_ready": lambda: services.request_mark_ready(
            request=registration,
            actor=admin,
            scan=CheckedUpload(PNG_SCAN, "image/png", "png"),
            questionnaire_filled_on=TODAY(),
            letter=registration.letter_pdf.name,
        ),
        "send": lambda: send(registration, admin),
        "resend": lambda: send(registration, admin, "resend"),
        "confirm_delivered": lambda: services.request_confirm_delivered(
            request=registration, actor=admin
        ),
        "download_eml": lambda: registration_eml(registration),
        "confirm_sent": lambda: services.request_confirm_sent(
            request=registration, actor=admin, sent_on=TODAY()
        ),
        "return": lambda: services.request_return(request=registration, actor=admin, reason="x"),
        "register": lambda: services.request_register(
            request=registration, actor=admin, registered_on=TODAY(), signed_in_confirmed=True
        ),
        "cancel": lambda: services.request_cancel(request=registration, actor=admin, reason=""),
    }


def test_every_action_of_the_table_has_a_call_and_a_button(ready_request, admin):
    assert set(action_calls(ready_request, admin)) == set(TRANSITIONS) == set(BUTTONS)


@pytest.mark.parametrize("state", RequestStatus.values)
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_the_table_decides_what_each_service_allows(action, state, ready_request, admin):
    registration = in_state(ready_request, state)
    step = TRANSITIONS[action]
    audit = Audit()
    if state in step.sources:
        action_calls(registration, admin)[action]()
        registration.refresh_from_db()
        assert registration.status == (step.target or state)
        if step.target is not None:
            assert [e.action for e in request_entries(audit)] == [f"request.{step.target}"]
    else:
        with pytest.raises(PortalError) as refused:
            action_calls(registration, admin)[action]()
        label = RequestStatus(state).label
        assert f"«{label}»" in refused.value.message
        registration.refresh_from_db()
        assert registration.status == state
        assert audit.new() == []


# What shows on the page when an action is offered: its form, or its link.
BUTTONS = {
    "update_details": 'action="{}"'.format(reverse("request_details")),
    "prepare_letter": 'action="{}"'.format(reverse("request_letter")),
    "mark_ready": 'action="{}"'.format(reverse("request_scan")),
    "send": 'action="{}"'.format(reverse("request_send")),
    "resend": 'action="{}?choice=resend"'.format(reverse("request_send")),
    "confirm_delivered": 'action="{}?choice=delivered"'.format(reverse("request_send")),
    "download_eml": 'href="{}"'.format(reverse("request_eml")),
    "confirm_sent": 'action="{}"'.format(reverse("request_sent")),
    "return": 'action="{}"'.format(reverse("request_return")),
    "register": 'action="{}"'.format(reverse("request_register")),
    "cancel": 'href="{}"'.format(reverse("request_cancel")),
}


def buttons_on_the_page(client) -> set[str]:
    page = client.get(reverse("registration_request")).content.decode()
    return {action for action, marker in BUTTONS.items() if marker in page}


@pytest.mark.parametrize("state", RequestStatus.values)
def test_the_page_shows_exactly_the_buttons_the_table_allows(
    state, client, ready_request, admin, director
):
    in_state(ready_request, state)
    client.force_login(admin)
    allowed = {action for action, step in TRANSITIONS.items() if state in step.sources}
    assert buttons_on_the_page(client) == allowed
    client.force_login(director)
    assert buttons_on_the_page(client) == set()  # the director follows, never acts


def test_changing_the_table_changes_both_the_service_and_the_page(
    monkeypatch, client, ready_request, admin
):
    monkeypatch.setitem(
        TRANSITIONS, "cancel", Transition((S.DRAFT,), S.CANCELLED, "отменить заявку")
    )
    monkeypatch.setitem(
        TRANSITIONS,
        "register",
        Transition((S.READY, S.SENT), S.REGISTERED, "отметить регистрацию"),
    )
    client.force_login(admin)
    shown = buttons_on_the_page(client)
    assert "cancel" not in shown and "register" in shown
    with pytest.raises(PortalError, match="только в состоянии «Черновик»"):
        services.request_cancel(request=ready_request, actor=admin, reason="")
    services.request_register(
        request=ready_request, actor=admin, registered_on=TODAY(), signed_in_confirmed=True
    )
    ready_request.refresh_from_db()
    assert ready_request.status == S.REGISTERED


# --- reading writes nothing ----------------------------------------------------------------


def test_downloading_the_eml_writes_nothing(client, ready_request, admin):
    message_id = ready_request.message_id
    before = rows()
    audit = Audit()
    client.force_login(admin)
    first = client.get(reverse("request_eml")).content
    second = client.get(reverse("request_eml")).content
    assert f"Message-ID: {message_id}".encode() in first
    assert f"Message-ID: {message_id}".encode() in second
    assert audit.new() == []
    assert rows() == before


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py). It asks for `db`
    as they do: pytest-django runs the tests without a database after all the others, which
    would be after this module's `observed` has ended."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
