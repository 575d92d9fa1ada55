"""Issue 12: changing the messenger starts the paperwork. The dashboard asks for a new parents'
notice when the one in force is older than the change, and offers a draft of a new regulation
version with the messenger's name replaced, made once, audited, for the director to approve."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Messenger
from accounts.services import organisation_update
from acknowledgements.models import DocumentVersion, VersionStatus
from acknowledgements.services import version_approve, version_create
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.selectors import messenger_paperwork
from onboarding.services import messenger_draft_create, notice_publish

SEED_TEXT = (
    Path(settings.BASE_DIR) / "acknowledgements" / "seed" / "regulation-201-O.txt"
).read_text(encoding="utf-8")
VK_WORDS = re.compile(r"\bVK\b|ВКонтакте")


@pytest.fixture
def seed_regulation(organisation, director):
    """The approved regulation with the seed's text, which names VK Мессенджер."""
    version = version_create(
        organisation=organisation,
        actor=director,
        title="Положение по использованию ИКОП «Сферум»",
        text=SEED_TEXT,
        order_number="201-О",
        order_date=dt.date(2023, 11, 30),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    return version_approve(version=version, actor=director)


def move_to_max(organisation, admin) -> None:
    organisation_update(organisation=organisation, actor=admin, data={"messenger": Messenger.MAX})
    organisation.refresh_from_db()


def test_nothing_is_pending_while_the_messenger_never_changed(
    organisation, seed_regulation, notice
):
    paperwork = messenger_paperwork(organisation)
    assert not paperwork.pending
    assert paperwork.draft is None


def test_a_change_asks_for_a_new_notice_and_a_draft(organisation, admin, seed_regulation, notice):
    move_to_max(organisation, admin)
    paperwork = messenger_paperwork(organisation)
    assert paperwork.notice_needed and paperwork.draft_needed and paperwork.pending
    # A notice published after the change answers the first prompt.
    notice_publish(organisation=organisation, actor=admin, text="Новое уведомление: MAX.")
    paperwork = messenger_paperwork(organisation)
    assert not paperwork.notice_needed
    assert paperwork.draft_needed


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
    paperwork = messenger_paperwork(organisation)
    assert not paperwork.draft_needed and paperwork.draft == draft


def test_the_draft_is_refused_under_vk_and_without_a_regulation(organisation, admin):
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


def test_the_partial_renders_both_prompts(rf, organisation, admin, seed_regulation, notice):
    move_to_max(organisation, admin)
    request = rf.get("/dashboard/")
    request.user = admin
    html = render_to_string(
        "onboarding/_messenger_paperwork.html",
        {"messenger_paperwork": messenger_paperwork(organisation), "organisation": organisation},
        request=request,
    )
    assert "Опубликовать новое уведомление" in html
    assert reverse("notices") in html
    assert "Подготовить проект новой редакции" in html
    assert f'action="{reverse("messenger_draft")}"' in html
    draft = messenger_draft_create(organisation=organisation, actor=admin)
    html = render_to_string(
        "onboarding/_messenger_paperwork.html",
        {"messenger_paperwork": messenger_paperwork(organisation), "organisation": organisation},
        request=request,
    )
    assert reverse("version_detail", args=[draft.pk]) in html
    assert "Подготовить проект новой редакции" not in html


def test_the_partial_is_empty_when_nothing_is_pending(organisation):
    html = render_to_string(
        "onboarding/_messenger_paperwork.html",
        {"messenger_paperwork": messenger_paperwork(organisation), "organisation": organisation},
    )
    assert not html.strip()


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
