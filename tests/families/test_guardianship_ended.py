"""A parent unlinked from a child takes with them what the link carried: the consent that
parent gave, still in force, ends with an act of its own («связь с родителем удалена»,
recorded by the administrator who unlinked), so the dashboard no longer counts it and the
former parent's data are erased after the retention as after a withdrawal, and so are those
in the former parent's earlier consents that another parent's consent came after; their «не
используем „Сферум“» choice for the child is taken away. Each is audited; a consent in force
that another parent gave is not touched."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Guardianship, Role
from cdt_portal.models import AuditEntry
from families.models import ConsentDetails, FamilyChoice
from families.selectors import consent_state, family_counts
from families.services import consent_data_erase, consent_record_paper, family_choice_set
from tests.factories import GuardianshipFactory, UserFactory
from tests.families.builders import consent_details_for, give_consent, years_ago

RETENTION = dt.timedelta(days=settings.CONSENT_RETENTION_DAYS)


def unlink(client, admin, student, parent):
    client.force_login(admin)
    response = client.post(
        reverse("person_parents", kwargs={"pk": student.pk}), {"unlink": parent.pk}
    )
    assert (response.status_code, response["Location"]) == (
        302,
        reverse("person_detail", kwargs={"pk": student.pk}),
    )
    assert not Guardianship.objects.filter(parent=parent, student=student).exists()


def test_the_former_parents_consent_ends_and_is_erased_after_the_retention(
    client, admin, parent, student, organisation
):
    given = give_consent(parent, student)
    assert family_counts(organisation).consents.done == 1
    unlink(client, admin, student, parent)

    ended = consent_state(student)
    assert (ended.action, ended.parent_id) == ("withdrawn", parent.pk)
    assert (ended.details.method, ended.details.recorded_by_id) == ("unlinked", admin.pk)
    assert family_counts(organisation).consents.done == 0
    entry = AuditEntry.objects.get(action="consent.ended")
    assert (entry.actor_id, entry.data["student"], entry.data["parent"]) == (
        admin.pk,
        student.pk,
        parent.pk,
    )
    # The managers' list says why it ended.
    page = client.get(reverse("consents")).content.decode()
    assert "прекращено: связь с родителем (Е.В. Кузнецова) удалена" in page
    # No parent left to record a paper act for: no link to the paper form.
    assert reverse("consent_paper", kwargs={"pk": student.pk}) not in page
    assert f"прекращено {timezone.localtime(ended.at):%d.%m.%Y}" in page

    assert consent_data_erase(now=ended.at + RETENTION + dt.timedelta(days=1)) == 1
    assert ConsentDetails.objects.get(record=given).parent_full_name == ""
    # The act in force ended with an act of its own: no earlier one was waiting.
    assert not AuditEntry.objects.filter(action="consent.data.to_erase").exists()


def test_a_consent_another_parent_gave_stays(client, admin, parent, student):
    other = UserFactory(
        organisation=student.organisation, username="father", last_name="Кузнецов",
        first_name="Андрей", roles=[Role.PARENT],
    )  # fmt: skip
    GuardianshipFactory(parent=other, student=student)
    earlier = give_consent(parent, student)
    by_other = give_consent(other, student)
    before = timezone.now()
    unlink(client, admin, student, parent)
    assert consent_state(student) == by_other
    assert not AuditEntry.objects.filter(action="consent.ended").exists()

    # The former parent's earlier consent keeps their data no longer: the retention runs from
    # the unlinking, as after a withdrawal; the other parent's consent in force keeps its own.
    unlinked_at = ConsentDetails.objects.get(record=earlier).parent_unlinked_at
    assert unlinked_at is not None and unlinked_at >= before
    assert ConsentDetails.objects.get(record=by_other).parent_unlinked_at is None
    entry = AuditEntry.objects.get(action="consent.data.to_erase")
    assert (entry.actor_id, entry.object_id, entry.data) == (
        admin.pk,
        str(student.pk),
        {"student": student.pk, "parent": parent.pk, "consents": [earlier.pk]},
    )
    assert consent_data_erase(now=unlinked_at + RETENTION - dt.timedelta(days=2)) == 0
    assert consent_data_erase(now=unlinked_at + RETENTION) == 1
    assert ConsentDetails.objects.get(record=earlier).parent_full_name == ""
    assert ConsentDetails.objects.get(record=by_other).parent_full_name != ""
    erased = AuditEntry.objects.get(action="consent.data.erased")
    assert (erased.object_id, erased.data["reason"]) == (str(earlier.pk), "parent_unlinked")


def test_the_former_parents_choice_is_taken_away(client, admin, parent, student):
    family_choice_set(parent=parent, student=student, declined=True, channel="paper")
    unlink(client, admin, student, parent)
    assert not FamilyChoice.objects.filter(parent=parent, student=student).exists()
    entry = AuditEntry.objects.get(action="family.choice.ended")
    assert entry.data == {"student": student.pk, "parent": parent.pk, "channel": "paper"}


def test_the_other_parents_earlier_paper_is_recorded_after_the_unlink(
    client, admin, parent, student
):
    """The unlink's end of a consent is nobody's decision: a paper consent the other parent
    signed before it, but after the former parent's consent, is recorded and in force."""
    other = UserFactory(
        organisation=student.organisation, username="father", last_name="Кузнецов",
        first_name="Андрей", roles=[Role.PARENT],
    )  # fmt: skip
    GuardianshipFactory(parent=other, student=student)
    today = timezone.localdate()
    consent_record_paper(
        actor=admin, parent=parent, student=student, action="given",
        signed_on=today - dt.timedelta(days=10), details=consent_details_for(years_ago(10)),
    )  # fmt: skip
    unlink(client, admin, student, parent)
    paper = consent_record_paper(
        actor=admin, parent=other, student=student, action="given",
        signed_on=today - dt.timedelta(days=5), details=consent_details_for(years_ago(10)),
    )  # fmt: skip
    assert consent_state(student) == paper
