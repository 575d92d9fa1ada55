"""Every writing service of families/services/ leaves exactly one audit entry, and a refusal
or a repeated click leaves none. The module's calls are watched (`tests/audit_observer.py`):
its last test checks that each service wrote the action declared for it."""

from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry, Delivery
from families import services
from families.models import (
    ConsentRecord,
    ConsentText,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
    SignatureTerms,
)
from tests import audit_observer
from tests.audit_observer import Audit, assert_entry
from tests.factories import PASSWORD
from tests.families.builders import (
    CERTIFICATE_ISSUED,
    CHILD_BORN,
    FILLED_CONSENT,
    give_consent,
    student_consent_details,
    years_ago,
)

# Each public function of families/services/, and the audit action it writes.
AUDITED_SERVICES = {
    "notice_publish": "notice.published",
    "notice_confirm": "notice.confirmed",
    "student_notice_publish": "student_notice.published",
    "student_notice_confirm": "student_notice.confirmed",
    "family_choice_set": "family.declined",  # or "family.returned" when they change their mind
    "consent_give": "consent.given",
    "consent_withdraw": "consent.withdrawn",
    "consent_record_paper": "consent.paper.given",  # or "consent.paper.withdrawn"
    "parent_deadline_set": "parent_deadline.set",
    "parent_reminders_run": "parent.reminded",  # one entry per letter, with its outcome
    "student_consent_give": "consent.student.given",
    "student_consent_withdraw": "consent.student.withdrawn",
    "consent_data_erase": "consent.data.erased",  # one entry per consent erased
    # Run by the accounts' unlink (accounts.signals.guardianship_ended); also writes
    # "family.choice.ended" when the former parent had declined.
    "end_what_the_guardianship_carried": "consent.ended",
}
# Public functions that write no audit entry of their own, and why.
NOT_AUDITED: dict[str, str] = {
    "parent_reminders_send": "starts the day's jobs; their `parent_reminders_run` writes the "
    "entry of each letter",
}

TODAY = timezone.localdate


observed = audit_observer.observed_fixture("families")


# --- every writing service, its exact entry -----------------------------------------------


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_publishing_and_confirming_the_notice_write_one_entry_each(admin, parent, organisation):
    audit = Audit()
    notice = services.notice_publish(organisation=organisation, actor=admin, text=" Текст. ")
    assert_entry(
        audit.only(),
        actor=admin,
        action="notice.published",
        obj=notice,
        organisation=organisation,
        data={"text_sha256": sha256("Текст.")},
    )

    audit = Audit()
    services.notice_confirm(notice=notice, parent=parent)
    assert_entry(
        audit.only(),
        actor=parent,
        action="notice.confirmed",
        obj=notice,
        organisation=organisation,
        data={},
    )


def test_an_entry_made_through_a_page_keeps_the_client_address(client, parent, student):
    give_consent(parent, student)
    client.force_login(parent)
    # Giving needs the filled form (issue 12); the withdrawal page records in one POST.
    client.post(reverse("consent_withdraw", kwargs={"pk": student.pk}), REMOTE_ADDR="10.1.2.3")
    assert AuditEntry.objects.get(action="consent.withdrawn").ip_address == "10.1.2.3"
    assert ConsentRecord.objects.get(action="withdrawn").ip_address == "10.1.2.3"


def test_the_students_notice_writes_one_entry_to_publish_and_one_to_confirm(
    admin, student, organisation
):
    audit = Audit()
    notice = services.student_notice_publish(organisation=organisation, actor=admin, text="Т.")
    assert_entry(
        audit.only(),
        actor=admin,
        action="student_notice.published",
        obj=notice,
        organisation=organisation,
        data={"text_sha256": sha256("Т.")},
    )

    audit = Audit()
    services.student_notice_confirm(notice=notice, student=student)
    assert_entry(
        audit.only(),
        actor=student,
        action="student_notice.confirmed",
        obj=notice,
        organisation=organisation,
        data={},
    )


def test_a_familys_choice_writes_one_entry_without_the_contact(parent, student, organisation):
    audit = Audit()
    choice = services.family_choice_set(
        parent=parent, student=student, declined=True, channel="phone", contact="+79120000000"
    )
    assert_entry(
        audit.only(),
        actor=parent,
        action="family.declined",
        obj=choice,
        organisation=organisation,
        data={"student": student.pk, "channel": "phone"},
    )


def test_the_full_consent_online_and_on_paper_write_one_entry_each(
    admin, parent, student, organisation
):
    details = {
        **FILLED_CONSENT,
        "id_issued_on": dt.date(2015, 3, 17),
        "child_birth_date": CHILD_BORN,
        "authority_issued_on": CERTIFICATE_ISSUED,
    }
    audit = Audit()
    given = services.consent_give(
        parent=parent,
        student=student,
        details=details,
        password=PASSWORD,
        terms_accepted=True,
        ip_address=None,
    )
    text = ConsentText.objects.get()
    act = {"student": student.pk, "parent": parent.pk, "text_sha256": text.text_sha256}
    assert_entry(
        audit.only(),
        actor=parent,
        action="consent.given",
        obj=given,
        organisation=organisation,
        data={
            **act,
            "method": "online",
            "signed_on": TODAY().isoformat(),
            "signature_terms_sha256": SignatureTerms.objects.get().text_sha256,
        },
    )

    audit = Audit()
    # The paper is the newer act (an older one could not undo the consent in force).
    on_paper = TODAY()
    paper = services.consent_record_paper(
        actor=admin,
        parent=parent,
        student=student,
        action="given",
        signed_on=on_paper,
        details=details,
    )
    assert_entry(
        audit.only(),
        actor=admin,
        action="consent.paper.given",
        obj=paper,
        organisation=organisation,
        data={**act, "method": "paper", "signed_on": on_paper.isoformat()},
    )


def test_a_students_own_consent_its_withdrawal_and_the_erasure_write_one_entry_each(
    student, organisation
):
    audit = Audit()
    given = services.student_consent_give(
        student=student,
        details=student_consent_details(years_ago(15)),
        password=PASSWORD,
        terms_accepted=True,
        ip_address=None,
    )
    assert_entry(
        audit.only(),
        actor=student,
        action="consent.student.given",
        obj=given,
        organisation=organisation,
        data={
            "student": student.pk,
            "adult": False,
            "text_sha256": ConsentText.objects.get().text_sha256,
            "signature_terms_sha256": SignatureTerms.objects.get().text_sha256,
        },
    )

    audit = Audit()
    withdrawn = services.student_consent_withdraw(student=student, ip_address=None)
    assert_entry(
        audit.only(),
        actor=student,
        action="consent.student.withdrawn",
        obj=withdrawn,
        organisation=organisation,
        data={"student": student.pk},
    )

    audit = Audit()
    later = timezone.now() + dt.timedelta(days=31)
    assert services.consent_data_erase(now=later) == 1
    assert_entry(
        audit.only(),
        actor=None,
        action="consent.data.erased",
        obj=given,
        organisation=organisation,
        data={
            "student": student.pk,
            "own": True,
            "reason": "withdrawn",
            "since": timezone.localtime(withdrawn.at).date().isoformat(),
        },
    )


def test_a_deadline_and_each_reminder_write_one_entry(admin, organisation, notice, parent):
    parent.email = "parent@example.ru"
    parent.save()
    due = TODAY() + dt.timedelta(days=10)
    audit = Audit()
    services.parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=due
    )
    assert_entry(
        audit.only(),
        actor=admin,
        action="parent_deadline.set",
        obj=ParentDeadline.objects.get(),
        organisation=organisation,
        data={"kind": "notice", "due_date": [None, due.isoformat()]},
    )

    audit = Audit()
    services.parent_reminders_send(today=TODAY(), base_url="http://testserver/")
    [letter] = Delivery.objects.filter(kind="parent_reminder")
    # The job's own entries aside (none: a job started by the schedule has no actor to audit).
    assert_entry(
        audit.only(),
        actor=None,
        action="parent.reminded",
        obj=parent,
        organisation=organisation,
        data={
            "parent": parent.pk,
            "kind": "notice",
            "status": "sent",
            "reason": "",
            "letter": letter.pk,
        },
    )


# --- a repeated click and a refusal write nothing ------------------------------------------


def rows() -> dict:
    """What the services may change, to compare before and after a refusal."""
    return {
        "notices": ParentNotice.objects.count(),
        "confirmations": NoticeAcknowledgement.objects.count(),
        "consents": ConsentRecord.objects.count(),
        "consent_texts": ConsentText.objects.count(),
        "choices": list(FamilyChoice.objects.values_list("pk", "declined", "channel")),
        "deadlines": list(ParentDeadline.objects.values_list("pk", "kind", "due_date")),
        "reminders": Delivery.objects.filter(kind="parent_reminder").count(),
    }


def test_a_second_click_that_changes_nothing_writes_nothing(admin, parent, student, organisation):
    notice = services.notice_publish(organisation=organisation, actor=admin, text="Текст.")
    services.notice_confirm(notice=notice, parent=parent)
    before = rows()

    audit = Audit()
    services.notice_publish(organisation=organisation, actor=admin, text=" Текст. ")
    services.notice_confirm(notice=notice, parent=parent)
    assert audit.new() == []
    assert rows() == before


def _empty_notice(w):
    return lambda: services.notice_publish(organisation=w.organisation, actor=w.admin, text=" ")


def _notice_confirmed_by_a_teacher(w):
    return lambda: services.notice_confirm(notice=w.notice, parent=w.teacher)


def _unknown_consent_action(w):
    return lambda: services.consent_record_paper(
        actor=w.admin, parent=w.parent, student=w.student, action="forever",
        signed_on=TODAY(), details={},
    )  # fmt: skip


def _consent_for_another_familys_child(w):
    return lambda: give_consent(w.teacher, w.student)


def _withdrawing_a_consent_never_given(w):
    return lambda: services.consent_withdraw(parent=w.parent, student=w.student, ip_address=None)


REFUSALS = [
    _empty_notice,
    _notice_confirmed_by_a_teacher,
    _unknown_consent_action,
    _consent_for_another_familys_child,
    _withdrawing_a_consent_never_given,
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda case: case.__name__.strip("_"))
def test_a_refusal_writes_nothing(case, organisation, admin, teacher, parent, student, notice):
    world = SimpleNamespace(
        organisation=organisation, admin=admin, teacher=teacher, parent=parent, student=student,
        notice=notice,
    )  # fmt: skip
    call = case(world)
    before = rows()
    audit = Audit()
    with pytest.raises(PortalError):
        call()
    assert audit.new() == []
    assert rows() == before


def test_unlinking_a_parent_ends_their_consent_and_choice_with_one_entry_each(
    admin, parent, student, organisation
):
    from accounts.services import guardianship_unlink

    give_consent(parent, student)
    services.family_choice_set(parent=parent, student=student, declined=True, channel="paper")
    audit = Audit()
    guardianship_unlink(student=student, parent_id=parent.pk, actor=admin)
    unlinked, ended, choice = audit.new()
    assert unlinked.action == "guardianship.unlinked"
    assert_entry(
        ended,
        actor=admin,
        action="consent.ended",
        obj=ConsentRecord.objects.latest("at", "pk"),
        organisation=organisation,
        data={"student": student.pk, "parent": parent.pk, "signed_on": TODAY().isoformat()},
    )
    assert_entry(
        choice,
        actor=admin,
        action="family.choice.ended",
        obj=student,
        organisation=organisation,
        data={"student": student.pk, "parent": parent.pk, "channel": "paper"},
    )


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py). It asks for `db`
    as they do: pytest-django runs the tests without a database after all the others, which
    would be after this module's `observed` has ended."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
