"""Evidence that lasts: the order and the sheet carry a QR code (ГОСТ Р 7.0.97-2025) of the
version's verification page; there a manager sees the text checked against the SHA-256
recorded at approval, and a sheet's file, uploaded, has its embedded log compared with the
records — a changed date, a confirmation left out or added shows, and bad files get a Russian
refusal and change nothing."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from acknowledgements.documents import LOG_DAMAGED, LOG_MISSING, LOG_NOT_A_PDF
from acknowledgements.services import acknowledgement_confirm
from cdt_portal.models import AuditEntry
from tests.acknowledgements.builders import fetch_sheet, make_agreement
from tests.factories import PASSWORD, UserFactory


def confirm(person, version):
    return acknowledgement_confirm(
        version=version, person=person, password=PASSWORD, ip_address="10.0.0.9", user_agent=""
    )[0]


@pytest.fixture
def sheet_pdf(client, director, admin, teacher, regulation):
    confirm(teacher, make_agreement(regulation.document.organisation, director))
    confirm(teacher, regulation)
    client.force_login(director)
    return fetch_sheet(client, reverse("regulation_sheet_pdf")).content


def verify(client, version, data: bytes, name="лист.pdf"):
    return client.post(
        reverse("version_verify", kwargs={"pk": version.pk}),
        {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
    )


def outcomes(response) -> list[tuple[str, str]]:
    import re

    page = response.content.decode()
    table = page[page.index('class="table align-middle verify-lines"') :]
    rows = re.findall(r"<tr[^>]*><td>(.*?)</td><td[^>]*>.*?</td><td>(.*?)</td></tr>", table)
    return rows


def with_log(pdf: bytes, change) -> bytes:
    """The same PDF with its embedded log changed by `change` (a function of the log)."""
    reader = PdfReader(io.BytesIO(pdf))
    log = json.loads(reader.attachments["confirmations.json"][0])
    change(log)
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.add_attachment("confirmations.json", json.dumps(log, ensure_ascii=False).encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_sheets_qr_code_leads_to_its_verification_page(client, sheet_pdf, regulation, tmp_path):
    import zxingcpp
    from PIL import Image

    path = tmp_path / "sheet.pdf"
    path.write_bytes(sheet_pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")],
        check=True,
    )
    [png] = tmp_path.glob("p*.png")
    image = Image.open(png)
    codes = zxingcpp.read_barcodes(image)
    url = settings.PORTAL_URL.rstrip("/") + f"/documents/verify/{regulation.pk}/"
    assert [code.text for code in codes] == [url]
    # At the top right of the first page, in its margin (above the first 20 mm).
    [code] = codes
    corners = [code.position.top_left, code.position.bottom_right]
    width_px, height_px = image.size
    assert all(c.x > width_px * 0.75 for c in corners)
    assert all(c.y < height_px * 20 / 297 for c in corners)
    assert client.get(url.removeprefix(settings.PORTAL_URL.rstrip("/"))).status_code == 200


def test_the_page_checks_the_text_and_every_confirmation(client, director, sheet_pdf, regulation):
    page = client.get(reverse("version_verify", kwargs={"pk": regulation.pk}))
    assert page.status_code == 200
    text = page.content.decode()
    assert "совпадает</span> Текст редакции" in text
    assert regulation.text_sha256 in text
    assert "Подтверждений: 1; каждое записано для текста своей редакции" in text


def test_an_unchanged_sheet_matches_the_records(client, sheet_pdf, regulation, teacher):
    response = verify(client, regulation, sheet_pdf)
    assert response.status_code == 200
    assert outcomes(response) == [(teacher.full_name, "совпадает с записью портала")]


def test_a_changed_date_a_left_out_and_a_later_confirmation_show(
    client, organisation, sheet_pdf, regulation, teacher, admin
):
    def backdate(log):
        log["confirmations"][0]["acknowledged_on"] = "2023-12-01"

    changed = verify(client, regulation, with_log(sheet_pdf, backdate))
    assert changed.status_code == 200
    assert outcomes(changed) == [(teacher.full_name, "не совпадает: дата ознакомления")]

    def leave_out(log):
        log["confirmations"] = []

    left = verify(client, regulation, with_log(sheet_pdf, leave_out))
    assert outcomes(left) == [
        (teacher.full_name, "есть в портале, но нет в файле, сформированном позже")
    ]

    later = UserFactory(organisation=organisation, last_name="Поздняя", roles=["teacher"])
    from acknowledgements.services import acknowledgement_record_paper

    acknowledgement_record_paper(
        version=regulation, person=later, paper_date=timezone.localdate(), recorded_by=admin
    )
    response = verify(client, regulation, sheet_pdf)
    assert outcomes(response) == [
        (teacher.full_name, "совпадает с записью портала"),
        (later.full_name, "подтверждено после того, как файл был сформирован"),
    ]


def test_a_stranger_in_the_log_is_not_in_the_records(client, sheet_pdf, regulation):
    def add(log):
        forged = dict(log["confirmations"][0], person={"id": 999999, "full_name": "Подложная"})
        log["confirmations"].append(forged)

    response = verify(client, regulation, with_log(sheet_pdf, add))
    assert ("Подложная", "нет такой записи в портале") in outcomes(response)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda pdf: b"GIF89a not a pdf", LOG_NOT_A_PDF),
        (lambda pdf: pdf[: len(pdf) // 3], LOG_DAMAGED),
        ("order", LOG_MISSING),
        ("encrypted", LOG_DAMAGED),
    ],
)
def test_a_bad_file_gets_a_russian_refusal_and_changes_nothing(
    client, sheet_pdf, regulation, make, message
):
    if make == "order":
        data = client.get(reverse("regulation_order_pdf")).content
    elif make == "encrypted":
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(sheet_pdf)))
        writer.encrypt("secret")
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    else:
        data = make(sheet_pdf)
    before = AuditEntry.objects.count()
    response = verify(client, regulation, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AuditEntry.objects.count() == before


def test_only_the_organisations_managers_see_it(
    client, regulation, teacher, outsider, draft_version
):
    url = reverse("version_verify", kwargs={"pk": regulation.pk})
    client.force_login(teacher)
    assert client.get(url).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(draft_version.created_by)
    assert client.get(reverse("version_verify", kwargs={"pk": draft_version.pk})).status_code == 404
