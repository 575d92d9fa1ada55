"""Issue 12: changing the messenger starts the paperwork. The dashboard asks for a new parents'
notice when the one in force is older than the change, and offers a draft of a new regulation
version with the messenger's name replaced (made by acknowledgements, for the director to
approve: tests/acknowledgements/test_messenger_draft.py)."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from acknowledgements.selectors import messenger_draft
from acknowledgements.services import messenger_draft_create
from families.selectors import notice_predates_messenger
from families.services import notice_publish
from tests.acknowledgements.builders import approve_seed_regulation, move_to_max


@pytest.fixture
def seed_regulation(organisation, director):
    """The approved regulation with the seed's text, which names VK Мессенджер."""
    return approve_seed_regulation(organisation, director)


def paperwork(organisation) -> dict:
    """The partial's context, as the dashboard gives it."""
    return {
        "organisation": organisation,
        "messenger_notice_needed": notice_predates_messenger(organisation),
        "messenger_draft": messenger_draft(organisation),
    }


def test_nothing_is_pending_while_the_messenger_never_changed(
    on_vk, organisation, seed_regulation, notice
):
    assert not notice_predates_messenger(organisation)
    assert not messenger_draft(organisation).needed


def test_a_change_asks_for_a_new_notice_and_a_draft(
    on_vk, organisation, admin, seed_regulation, notice
):
    move_to_max(organisation, admin)
    assert notice_predates_messenger(organisation)
    assert messenger_draft(organisation).needed
    # A notice published after the change answers the first prompt.
    notice_publish(organisation=organisation, actor=admin, text="Новое уведомление: MAX.")
    assert not notice_predates_messenger(organisation)
    assert messenger_draft(organisation).needed


def test_the_partial_renders_both_prompts(on_vk, rf, organisation, admin, seed_regulation, notice):
    move_to_max(organisation, admin)
    request = rf.get("/dashboard/")
    request.user = admin
    html = render_to_string(
        "onboarding/_messenger_paperwork.html", paperwork(organisation), request=request
    )
    assert "Опубликовать новое уведомление" in html
    assert reverse("notices") in html
    assert "Подготовить проект новой редакции" in html
    assert f'action="{reverse("messenger_draft")}"' in html
    draft = messenger_draft_create(organisation=organisation, actor=admin)
    html = render_to_string(
        "onboarding/_messenger_paperwork.html", paperwork(organisation), request=request
    )
    assert reverse("version_detail", args=[draft.pk]) in html
    assert "Подготовить проект новой редакции" not in html


def test_the_partial_is_empty_when_nothing_is_pending(organisation):
    html = render_to_string("onboarding/_messenger_paperwork.html", paperwork(organisation))
    assert not html.strip()


def test_the_dashboard_shows_the_prompts(
    on_vk, client, organisation, admin, seed_regulation, notice
):
    client.force_login(admin)
    before = client.get(reverse("dashboard")).content.decode()
    assert "Подготовить проект новой редакции" not in before
    move_to_max(organisation, admin)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Опубликовать новое уведомление" in page
    assert "Подготовить проект новой редакции" in page
