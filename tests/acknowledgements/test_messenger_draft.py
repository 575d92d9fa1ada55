"""Issue 12: changing the messenger offers a draft of a new regulation version with the
messenger's name replaced, made once, audited, for the director to approve by a new order.
(The dashboard's prompts, a new parents' notice among them:
tests/onboarding/test_messenger_paperwork.py.)"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from acknowledgements.models import DocumentVersion, VersionStatus
from acknowledgements.selectors import messenger_draft
from acknowledgements.services import messenger_draft_create
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.acknowledgements.builders import approve_seed_regulation, move_to_max

VK_WORDS = re.compile(r"\bVK\b|ВКонтакте")


@pytest.fixture
def seed_regulation(organisation, director):
    """The approved regulation with the seed's text, which names VK Мессенджер."""
    return approve_seed_regulation(organisation, director)


def test_no_draft_is_asked_for_while_the_messenger_never_changed(
    on_vk, organisation, seed_regulation
):
    draft = messenger_draft(organisation)
    assert not draft.needed
    assert draft.draft is None


def test_a_change_asks_for_a_draft(organisation, admin, seed_regulation):
    move_to_max(organisation, admin)
    assert messenger_draft(organisation).needed


def test_the_draft_replaces_the_messenger_and_is_audited(
    organisation, admin, director, seed_regulation
):
    move_to_max(organisation, admin)
    since = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    draft = messenger_draft_create(organisation=organisation, actor=admin)
    assert draft.status == VersionStatus.DRAFT
    assert draft.number == seed_regulation.number + 1
    assert VK_WORDS.search(seed_regulation.text)
    assert not VK_WORDS.search(draft.text)
    assert "доступен в мессенджере MAX" in draft.text
    assert "учебный профиль ИКОП Сферум в мессенджере MAX" in draft.text
    assert draft.approver_name == organisation.head_name
    entries = list(AuditEntry.objects.filter(pk__gt=since))
    assert [(e.action, e.actor_id, e.object_id) for e in entries] == [
        ("version.created", admin.pk, str(draft.pk))
    ]
    # The second press returns the same draft and writes nothing.
    again = messenger_draft_create(organisation=organisation, actor=director)
    assert again.pk == draft.pk
    assert AuditEntry.objects.filter(pk__gt=since).count() == 1
    assert DocumentVersion.objects.filter(status=VersionStatus.DRAFT).count() == 1
    shown = messenger_draft(organisation)
    assert not shown.needed and shown.draft == draft


def test_the_draft_is_refused_under_vk_and_without_a_regulation(on_vk, organisation, admin):
    with pytest.raises(PortalError) as refused:
        messenger_draft_create(organisation=organisation, actor=admin)
    assert "VK Мессенджер" in refused.value.message
    move_to_max(organisation, admin)
    since = AuditEntry.objects.count()
    with pytest.raises(PortalError) as refused:
        messenger_draft_create(organisation=organisation, actor=admin)
    assert "Утверждённой редакции" in refused.value.message
    assert AuditEntry.objects.count() == since


def test_the_view_makes_the_draft_and_shows_it(client, organisation, admin, seed_regulation):
    move_to_max(organisation, admin)
    client.force_login(admin)
    response = client.post(reverse("messenger_draft"))
    draft = DocumentVersion.objects.get(status=VersionStatus.DRAFT)
    assert response.status_code == 302
    assert response["Location"] == reverse("version_detail", args=[draft.pk])
    assert client.get(reverse("messenger_draft")).status_code == 405


def test_a_refusal_goes_back_to_the_dashboard(on_vk, client, organisation, admin, seed_regulation):
    """The address to go back to is the dashboard's, given by the URLconf that routes the
    button here (onboarding/urls.py): this app does not name a page of a higher layer."""
    client.force_login(admin)
    response = client.post(reverse("messenger_draft"), follow=True)
    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    assert "менять в Положении нечего" in response.content.decode()
    assert not DocumentVersion.objects.filter(status=VersionStatus.DRAFT).exists()


def test_the_drafts_changes_page_shows_the_replaced_words(
    client, organisation, admin, director, seed_regulation
):
    """The director reviews the draft as a diff: the old messenger deleted, MAX inserted."""
    move_to_max(organisation, admin)
    draft = messenger_draft_create(organisation=organisation, actor=admin)
    client.force_login(director)
    response = client.get(reverse("version_changes", args=[draft.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    deleted = re.findall(r'<del class="diff-del">(.*?)</del>', page, re.S)
    inserted = re.findall(r'<ins class="diff-ins">(.*?)</ins>', page, re.S)
    assert any("VK" in text for text in deleted), deleted
    assert any("MAX" in text for text in inserted), inserted
    # Only the messenger's names changed: nothing else was inserted.
    assert all("MAX" in text or "мессенджер" in text for text in inserted), inserted
