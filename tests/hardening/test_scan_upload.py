"""Finding 9 on the registration request's page: the signed scan is checked by
`cdt_portal.uploads.check_upload` (the files it refuses and accepts: tests/core/test_uploads.py);
a refusal is shown beside the file, audited in its own transaction, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cdt_portal.models import AuditEntry
from onboarding.models import RegistrationRequest, RequestStatus
from tests.core.test_uploads import CLEAN, POLYGLOTS
from tests.onboarding.builders import give_letterhead


@pytest.fixture
def awaiting(client, admin):
    give_letterhead(admin.organisation)  # the letter needs the letterhead's contacts
    client.force_login(admin)
    client.post(reverse("request_start"))
    client.post(
        reverse("request_details"),
        {"full_name": "Захарова Ольга Викторовна", "phone": "+79123456789"},
    )
    client.post(reverse("request_letter"))
    registration = RegistrationRequest.objects.get()
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    return registration


def upload(client, name: str, content: bytes):
    return client.post(
        reverse("request_scan"),
        {
            "scan": SimpleUploadedFile(name, content),
            "questionnaire_filled_on": "2026-11-20",
            "letter": RegistrationRequest.objects.get().letter_pdf.name,
        },
    )


def stored_scans(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "onboarding" / "scans"
    return list(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_a_file_that_is_not_one_clean_document_is_refused_and_audited(
    kind, client, admin, awaiting, settings
):
    response = upload(client, "скан.pdf", POLYGLOTS[kind])
    text = response.content.decode()
    assert response.status_code == 400  # the form again, with the message beside the file
    assert "Файл не открывается как" in text
    assert "Скан не принят" in text
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.AWAITING_SIGNATURE
    assert not awaiting.scan
    assert stored_scans(settings) == []
    entry = AuditEntry.objects.get(action="request.scan.refused")
    assert entry.actor_id == admin.pk
    assert entry.object_id == str(awaiting.pk)
    assert entry.data["filename"] == "скан.pdf"
    assert entry.data["size"] == len(POLYGLOTS[kind])
    assert "Файл не открывается как" in entry.data["reason"]


@pytest.mark.parametrize(("name", "content", "content_type"), CLEAN)
def test_a_clean_scan_is_accepted(name, content, content_type, client, awaiting):
    upload(client, name, content)
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.READY
    assert awaiting.scan_content_type == content_type
    assert not AuditEntry.objects.filter(action="request.scan.refused").exists()
