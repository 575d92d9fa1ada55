"""An act given as its own PDF rather than text: the file is checked for real (not a PDF, a
password-protected or broken PDF: a Russian refusal and nothing written), staff open it from the
document's page, the confirmation records the file's SHA-256, and the approved order carries the
file inside it (PDF/A-3, relationship /Source)."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from acknowledgements.models import Document, DocumentVersion
from acknowledgements.services import acknowledgement_confirm, version_approve
from cdt_portal.models import AuditEntry
from cdt_portal.uploads import PDF_DAMAGED, PDF_ENCRYPTED, PDF_ONLY
from tests.factories import PASSWORD


@pytest.fixture(scope="module")
def act_pdf() -> bytes:
    """A real one-page PDF of an act, as an institution would upload it."""
    from weasyprint import HTML

    return HTML(string="<h1>Положение о защите персональных данных</h1>").write_pdf()


def form(**values):
    data = {
        "title": "Положение о защите персональных данных",
        "kind": "regulation",
        "audience": "all",
        "order_number": "18-О",
        "order_date": timezone.localdate().isoformat(),
        "approver_position": "Директор",
        "approver_name": "О.Б. Денисенко",
        "text": "",
    }
    data.update(values)
    return data


def upload(data: bytes, name="положение.pdf"):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def test_an_act_given_as_a_pdf_is_read_confirmed_and_carried_by_its_order(
    client, organisation, admin, director, teacher, act_pdf
):
    client.force_login(admin)
    response = client.post(reverse("document_new"), {**form(), "source_pdf": upload(act_pdf)})
    version = DocumentVersion.objects.get(document__title__startswith="Положение о защите")
    assert response.status_code == 302
    assert response["Location"] == reverse("version_detail", kwargs={"pk": version.pk})
    assert (version.text, version.source_name) == ("", "положение.pdf")
    with version.source_pdf.open("rb") as stored:
        assert stored.read() == act_pdf

    version = version_approve(version=version, actor=director)
    assert version.status == "approved"
    assert version.text_sha256 == hashlib.sha256(act_pdf).hexdigest()

    client.force_login(teacher)
    page = client.get(reverse("document_read", kwargs={"code": version.document.code}))
    file_url = reverse("version_source_pdf", kwargs={"pk": version.pk})
    assert file_url in page.content.decode()
    served = client.get(file_url)
    assert served.status_code == 200 and body(served) == act_pdf
    ack, _ = acknowledgement_confirm(
        version=version, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    assert ack.text_sha256 == hashlib.sha256(act_pdf).hexdigest()

    client.force_login(director)
    order = client.get(reverse("version_order_pdf", kwargs={"pk": version.pk}))
    reader = PdfReader(io.BytesIO(body(order)))
    assert reader.attachments["положение.pdf"] == [act_pdf]
    assert hashlib.sha256(act_pdf).hexdigest() in " ".join(
        page.extract_text() for page in reader.pages
    ).replace("\n", "")


def body(response) -> bytes:
    """A served file's bytes, whether streamed or not (production hands files to nginx)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def encrypted(pdf: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0\xee"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda pdf: PNG, PDF_ONLY),
        (encrypted, PDF_ENCRYPTED),
        (lambda pdf: pdf[: len(pdf) // 2], PDF_DAMAGED),
        (lambda pdf: b"", "Введите текст документа или приложите его файл PDF."),
    ],
    ids=["an image", "with a password", "broken", "empty"],
)
def test_a_bad_file_is_refused_in_russian_and_nothing_is_written(
    client, organisation, admin, teacher, act_pdf, make, message
):
    client.force_login(admin)
    before = AuditEntry.objects.count()
    data = make(act_pdf)
    files = {"source_pdf": upload(data)} if data else {}
    response = client.post(reverse("document_new"), {**form(), **files})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.exists() and not DocumentVersion.objects.exists()
    assert AuditEntry.objects.count() == before


def test_a_drafts_file_is_for_its_managers_only(client, organisation, admin, teacher, act_pdf):
    client.force_login(admin)
    client.post(reverse("document_new"), {**form(), "source_pdf": upload(act_pdf)})
    version = DocumentVersion.objects.get()
    url = reverse("version_source_pdf", kwargs={"pk": version.pk})
    assert client.get(url).status_code == 200
    client.force_login(teacher)
    assert client.get(url).status_code == 404
