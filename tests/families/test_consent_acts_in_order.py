"""The act in force is the newest, so an act recorded later must not be signed earlier: a
paper consent dated before an online withdrawal would revive the consent the parent
withdrew, and a paper withdrawal dated before an online consent would end it. Both are
refused with the two dates, and nothing is written. And a parent does not consent for a
student who is 18: an adult consents alone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from families.models import ConsentRecord
from families.selectors import consent_state
from families.services import (
    ADULT_CONSENTS_ALONE,
    consent_record_paper,
    consent_withdraw,
)
from tests.families.builders import CHILD_PASSPORT, FILLED_CONSENT, give_consent, years_ago


def paper_details(born):
    return {
        **FILLED_CONSENT,
        "id_issued_on": dt.date(2015, 3, 17),
        "child_birth_date": born,
        "authority_issued_on": born + dt.timedelta(days=18),
    }


def test_an_older_paper_consent_does_not_revive_a_withdrawal(admin, parent, student):
    give_consent(parent, student)
    withdrawal = consent_withdraw(parent=parent, student=student, ip_address=None)
    month_ago = timezone.localdate() - dt.timedelta(days=30)
    entries = AuditEntry.objects.count()
    with pytest.raises(PortalError) as refused:
        consent_record_paper(
            actor=admin, parent=parent, student=student, action="given",
            signed_on=month_ago, details=paper_details(years_ago(10)),
        )  # fmt: skip
    assert refused.value.field == "signed_on"
    assert refused.value.message == (
        f"Бумага подписана {month_ago:%d.%m.%Y}, раньше действующего решения от "
        f"{timezone.localdate():%d.%m.%Y}: более ранний документ его не отменяет. Если "
        "родитель подписал новый, укажите его дату."
    )
    assert consent_state(student) == withdrawal
    assert ConsentRecord.objects.count() == 2
    assert AuditEntry.objects.count() == entries


def test_an_older_paper_withdrawal_does_not_end_a_newer_consent(admin, parent, student):
    given = give_consent(parent, student)
    with pytest.raises(PortalError):
        consent_record_paper(
            actor=admin, parent=parent, student=student, action="withdrawn",
            signed_on=timezone.localdate() - dt.timedelta(days=60), details={},
        )  # fmt: skip
    assert consent_state(student) == given
    # A paper of the same day or later is the newer decision and is recorded.
    consent_record_paper(
        actor=admin, parent=parent, student=student, action="withdrawn",
        signed_on=timezone.localdate(), details={},
    )  # fmt: skip
    assert consent_state(student).action == "withdrawn"


def test_a_parent_does_not_consent_for_an_adult(admin, parent, student):
    for act in (
        lambda: give_consent(parent, student, details=paper_details(years_ago(18))),
        lambda: consent_record_paper(
            actor=admin, parent=parent, student=student, action="given",
            signed_on=timezone.localdate(), details=paper_details(years_ago(25)),
        ),
    ):  # fmt: skip
        with pytest.raises(PortalError) as refused:
            act()
        assert (refused.value.field, refused.value.message) == (
            "child_birth_date",
            ADULT_CONSENTS_ALONE,
        )
    assert not ConsentRecord.objects.exists()
    # The day before the 18th birthday the parent still may.
    seventeen = {
        **paper_details(years_ago(18, plus_days=-1)),
        **CHILD_PASSPORT,
        "child_id_issued_on": dt.date(2025, 7, 1),
    }
    give_consent(parent, student, details=seventeen)
    assert consent_state(student).action == "given"


def test_a_paper_recorded_by_an_administrator_who_is_the_parent_names_her(
    admin, student, organisation
):
    """The administrator who is also the child's parent records her own paper: the record
    still says who entered it."""
    from accounts.models import Role
    from accounts.services import guardianship_link, user_set_roles

    user_set_roles(user=admin, roles={Role.ADMIN, Role.TEACHER, Role.PARENT})
    guardianship_link(parent=admin, student=student, actor=None)
    record = consent_record_paper(
        actor=admin, parent=admin, student=student, action="given",
        signed_on=timezone.localdate(), details=paper_details(years_ago(10)),
    )  # fmt: skip
    assert record.details.recorded_by == admin


def test_a_student_does_not_claim_an_age_the_parents_consent_contradicts(parent, student):
    """A child of ten whose parent's consent says so cannot give their own consent by typing
    a date that makes them fifteen."""
    from families.models import StudentConsent
    from families.services import BIRTH_DATE_DIFFERS
    from tests.families.builders import consent_details_for, give_own_consent

    ten = years_ago(10)
    give_consent(parent, student, details=consent_details_for(ten))
    with pytest.raises(PortalError) as refused:
        give_own_consent(student, years_ago(15))
    assert (refused.value.field, refused.value.message) == (
        "birth_date",
        BIRTH_DATE_DIFFERS.format(recorded=ten),
    )
    assert not StudentConsent.objects.exists()

    # Once the parent's consent in force gives the date the student gives, theirs is taken.
    fifteen = years_ago(15)
    give_consent(parent, student, details=consent_details_for(fifteen))
    assert give_own_consent(student, fifteen).action == "given"
