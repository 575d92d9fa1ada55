"""Versions: draft → approved → superseded, each change by one function with an audit entry."""

import datetime as dt

import pytest
from django.contrib import admin as django_admin
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from acknowledgements.models import Acknowledgement, DocumentVersion, VersionStatus, text_sha256
from acknowledgements.services import version_approve, version_edit
from cdt_portal.audit import history
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry


def actions(version, **filters) -> list[str]:
    return [entry.action for entry in history(version).filter(**filters)]


def version_data(**overrides):
    data = {
        "title": "Положение по использованию ИКОП «Сферум»",
        "order_number": "12-О",
        "order_date": "2026-11-20",
        "approver_position": "Директор",
        "approver_name": "О.Б. Денисенко",
        "text": "## 1. Общие положения\n\nНовый текст.\n",
    }
    data.update(overrides)
    return data


def test_the_administrator_prepares_a_draft_prefilled_from_the_current_version(
    client, admin, regulation
):
    client.force_login(admin)
    page = client.get(reverse("version_new")).content.decode()
    assert "Текст первого раздела." in page
    response = client.post(reverse("version_new"), version_data())
    draft = DocumentVersion.objects.get(status=VersionStatus.DRAFT)
    assert response["Location"] == reverse("version_detail", kwargs={"pk": draft.pk})
    assert draft.number == regulation.number + 1
    assert draft.created_by == admin
    assert actions(draft) == ["version.created"]
    assert history(draft).get().actor == admin


def test_a_draft_can_be_edited(client, admin, draft_version):
    client.force_login(admin)
    response = client.post(
        reverse("version_edit", kwargs={"pk": draft_version.pk}),
        version_data(text="Исправленный текст."),
    )
    assert response.status_code == 302
    draft_version.refresh_from_db()
    assert draft_version.text == "Исправленный текст."
    assert actions(draft_version, actor=admin) == ["version.edited"]


def test_editing_an_approved_version_is_refused(client, admin, regulation):
    client.force_login(admin)
    before = regulation.text
    response = client.post(
        reverse("version_edit", kwargs={"pk": regulation.pk}),
        version_data(text="Подменённый текст."),
        follow=True,
    )
    assert "Утверждённую редакцию изменить нельзя" in response.content.decode()
    regulation.refresh_from_db()
    assert regulation.text == before
    with pytest.raises(PortalError):
        version_edit(version=regulation, actor=admin, text="Подменённый текст.")
    regulation.refresh_from_db()
    assert regulation.text == before
    assert "version.edited" not in actions(regulation)


def test_an_order_date_in_the_future_is_refused(client, admin, regulation):
    client.force_login(admin)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(reverse("version_new"), version_data(order_date=f"{tomorrow}"))
    assert "Дата приказа не может быть позже сегодняшней." in response.content.decode()
    assert DocumentVersion.objects.count() == 1


def test_the_director_approves_after_a_confirmation_page(
    client, director, regulation, draft_version
):
    client.force_login(director)
    page = client.get(reverse("version_approve", kwargs={"pk": draft_version.pk})).content.decode()
    assert "Утвердить редакцию" in page
    assert f"Действующая редакция {regulation.number}" in page
    draft_version.refresh_from_db()
    assert draft_version.status == VersionStatus.DRAFT  # GET changed nothing

    response = client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}))
    assert response.status_code == 302
    draft_version.refresh_from_db()
    regulation.refresh_from_db()
    assert draft_version.status == VersionStatus.APPROVED
    assert draft_version.approved_by == director
    assert draft_version.text_sha256 == text_sha256(draft_version.text)
    assert draft_version.order_pdf.name.endswith(".pdf")
    assert regulation.status == VersionStatus.SUPERSEDED
    assert actions(regulation, actor=director)[-1] == "version.superseded"
    assert actions(draft_version, actor=director)[-1] == "version.approved"


def test_the_administrator_cannot_approve(client, admin, draft_version):
    client.force_login(admin)
    assert (
        client.post(reverse("version_approve", kwargs={"pk": draft_version.pk})).status_code == 403
    )
    draft_version.refresh_from_db()
    assert draft_version.status == VersionStatus.DRAFT


def test_approving_twice_is_refused_with_a_message(client, director, draft_version):
    client.force_login(director)
    client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}))
    entries = AuditEntry.objects.count()
    response = client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}), follow=True)
    assert "уже утверждена или заменена" in response.content.decode()
    assert AuditEntry.objects.count() == entries
    with pytest.raises(PortalError):
        version_approve(version=draft_version, actor=director)


def test_one_approved_version_per_document_is_a_database_rule(regulation):
    with pytest.raises(IntegrityError), transaction.atomic():
        DocumentVersion.objects.create(
            document=regulation.document,
            number=99,
            title="x",
            text="x",
            order_number="1",
            order_date=dt.date(2024, 1, 1),
            approver_position="Директор",
            approver_name="О.Б. Денисенко",
            status=VersionStatus.APPROVED,
        )


def test_the_history_is_shown(client, director, regulation):
    client.force_login(director)
    page = client.get(reverse("version_detail", kwargs={"pk": regulation.pk})).content.decode()
    assert "создана" in page
    assert "утверждена" in page
    assert regulation.text_sha256 in page


def test_acknowledgements_cannot_be_changed_in_the_admin():
    model_admin = django_admin.site._registry[Acknowledgement]
    assert not model_admin.has_change_permission(request=None)
    assert not model_admin.has_delete_permission(request=None)
    assert not model_admin.has_add_permission(request=None)


def test_approval_fixes_the_text_in_the_database_not_the_callers_copy(
    director, admin, draft_version
):
    """The job renders the version under its `approving` state, read from the database: an
    edit made just before the press is what gets approved and hashed."""
    stale = DocumentVersion.objects.get(pk=draft_version.pk)
    version_edit(version=draft_version, actor=admin, text="Текст, изменённый в ту же минуту.")
    approved = version_approve(version=stale, actor=director)
    assert approved.status == VersionStatus.APPROVED
    assert approved.text_sha256 == text_sha256("Текст, изменённый в ту же минуту.")


def test_a_version_being_approved_cannot_be_edited(admin, draft_version):
    DocumentVersion.objects.filter(pk=draft_version.pk).update(status=VersionStatus.APPROVING)
    draft_version.refresh_from_db()
    with pytest.raises(PortalError, match="Редакция утверждается: изменить её нельзя"):
        version_edit(version=draft_version, actor=admin, text="Подмена.")
    draft_version.refresh_from_db()
    assert draft_version.text != "Подмена."
