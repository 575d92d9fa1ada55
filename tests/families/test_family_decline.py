"""Families who decline Sferum: a parent chooses another channel for a child, may change their
mind; the group's teacher sees it; the dashboard counts it; reminder code can leave them out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from families.models import FamilyChoice
from families.selectors import declined_family_ids, notice_counts
from families.services import family_choice_set


def test_a_parent_declines_then_changes_their_mind(
    client, parent, student, teacher, group, organisation
):
    client.force_login(parent)
    url = reverse("family_choice", kwargs={"pk": student.pk})
    assert "Объяснять причину не нужно" in client.get(url).content.decode()
    response = client.post(url, {"declined": "1", "channel": "phone", "contact": "+79001234567"})
    assert response.status_code == 302 and response["Location"] == reverse("family_home")
    choice = FamilyChoice.objects.get()
    assert (choice.parent, choice.student, choice.declined, choice.channel) == (
        parent, student, True, "phone",
    )  # fmt: skip
    entry = AuditEntry.objects.get(action="family.declined")
    assert entry.actor_id == parent.pk and entry.object_id == str(choice.pk)
    assert "+79001234567" not in str(entry.data)
    assert (
        "не используем «Сферум»: связь по телефону"
        in client.get(reverse("family_home")).content.decode()
    )

    # The teacher sees it on the group's families page; the dashboard counts it; reminders
    # can leave the family out.
    client.force_login(teacher)
    page = client.get(reverse("group_families", kwargs={"pk": group.pk})).content.decode()
    assert "не использует: связь по телефону — +79001234567" in page
    assert notice_counts(organisation).declined == 1
    assert declined_family_ids(organisation) == {parent.pk, student.pk}

    # They change their mind: the same row, one entry, no longer counted.
    client.force_login(parent)
    response = client.post(url, {"declined": "0"})
    assert response.status_code == 302
    choice.refresh_from_db()
    assert (choice.declined, choice.channel, choice.contact) == (False, "", "")
    assert AuditEntry.objects.filter(action="family.returned", actor=parent).count() == 1
    assert notice_counts(organisation).declined == 0
    assert declined_family_ids(organisation) == frozenset()


def test_phone_or_email_needs_a_contact_and_paper_does_not(client, parent, student):
    client.force_login(parent)
    url = reverse("family_choice", kwargs={"pk": student.pk})
    response = client.post(url, {"declined": "1", "channel": "email", "contact": ""})
    assert response.status_code == 200
    assert "Укажите адрес электронной почты для связи." in response.content.decode()
    response = client.post(url, {"declined": "1", "channel": ""})
    assert response.status_code == 200
    assert not FamilyChoice.objects.exists()
    response = client.post(url, {"declined": "1", "channel": "paper", "contact": "x"})
    assert response.status_code == 302
    assert FamilyChoice.objects.get().contact == ""


def test_repeats_and_strangers_write_nothing(parent, student, organisation):
    from tests.factories import UserFactory

    family_choice_set(parent=parent, student=student, declined=True, channel="paper")
    family_choice_set(parent=parent, student=student, declined=True, channel="paper")
    assert AuditEntry.objects.filter(action__startswith="family.").count() == 1
    stranger = UserFactory(organisation=organisation, roles=["parent"])
    with pytest.raises(PortalError):
        family_choice_set(parent=stranger, student=student, declined=True, channel="paper")
    assert FamilyChoice.objects.count() == 1


def test_returning_without_a_choice_writes_nothing(parent, student):
    assert family_choice_set(parent=parent, student=student, declined=False) is None
    assert not FamilyChoice.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="family.").exists()


def test_another_familys_child_is_404(client, organisation, student):
    from tests.factories import UserFactory

    other = UserFactory(organisation=organisation, roles=["parent"])
    client.force_login(other)
    url = reverse("family_choice", kwargs={"pk": student.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"declined": "1", "channel": "paper"}).status_code == 404
    assert not FamilyChoice.objects.exists()
