"""Finding 5: WeasyPrint fetched any URL in a regulation or notice text (an image link to
http://127.0.0.1:… was requested at approval, a local file was embedded in the approved
order). Now the renderer serves only the project's static files and data: URIs, and a text
with an image is refused when it is saved."""

from __future__ import annotations

import base64
import io

import pytest
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from acknowledgements.documents import render_order
from acknowledgements.models import DocumentVersion
from acknowledgements.services import version_approve, version_create, version_edit
from cdt_portal.errors import PortalError
from cdt_portal.markup import IMAGES_REFUSED, image_sources
from cdt_portal.models import AuditEntry
from cdt_portal.pdf import render_pdf, static_path
from families.models import ParentNotice
from families.services import notice_publish
from tests.hardening.servers import counting_http_server


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(out, "PNG")
    return out.getvalue()


def images_in(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


def approve_with_text(draft_version, director, text: str) -> bytes:
    # A text stored before saving refused images (or written straight to the database):
    # the renderer itself must still refuse to fetch.
    DocumentVersion.objects.filter(pk=draft_version.pk).update(text=text)
    draft_version.refresh_from_db()
    version = version_approve(version=draft_version, actor=director)
    with version.order_pdf.open("rb") as stored:
        return stored.read()


@pytest.fixture
def static_png(settings, tmp_path):
    """A PNG among the project's static files, to show the fetcher does serve those."""
    folder = tmp_path / "static"
    (folder / "hardening").mkdir(parents=True)
    (folder / "hardening" / "pixel.png").write_bytes(png())
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, str(folder)]
    return "hardening/pixel.png"


def test_an_image_link_to_a_local_server_makes_no_request_at_approval(draft_version, director):
    with counting_http_server(png()) as (base, hits):
        pdf = approve_with_text(
            draft_version, director, f"Текст.\n\n![карта]({base}/internal/admin.png)\n"
        )
    assert hits == []
    # The only images are the order's own QR code: as many as in the same order without the
    # link.
    clean = DocumentVersion.objects.get(pk=draft_version.pk)
    clean.text = "Текст.\n"
    assert images_in(pdf) == images_in(render_order(clean)[1]) > 0
    assert "Текст." in "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_file_url_to_a_file_outside_static_is_not_embedded(settings, tmp_path, static_png):
    # Markdown drops file: links itself; the renderer must hold even for HTML that has them
    # (a template, a future text format). The same page with a static image shows one.
    private = tmp_path / "private.png"  # e.g. a signed scan in the private media folder
    private.write_bytes(png("blue"))
    project_file = settings.BASE_DIR / "cdt_portal" / "settings" / "base.py"
    for src in [
        f"file://{private}",
        str(private),
        f"file://{project_file}",
        "static/../cdt_portal/settings/base.py",
        "/static/../../etc/passwd",
        "../var/media/onboarding/scans/x.png",
    ]:
        _, pdf = render_pdf(
            "families/pdf/consent.html", _consent_context(f'<img src="{src}">'), filename="x.pdf"
        )
        assert images_in(pdf) == 0, src
    _, pdf = render_pdf(
        "families/pdf/consent.html",
        _consent_context(f'<img src="static/{static_png}"><object data="file://{project_file}">'),
        filename="x.pdf",
    )
    assert images_in(pdf) == 1
    assert "SECRET_KEY" not in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_the_projects_own_static_files_and_data_uris_are_still_served(static_png):
    pixel = base64.b64encode(png()).decode()
    html_parts = [
        f'<img src="static/{static_png}">',
        f'<img src="/static/{static_png}">',
        f'<img src="data:image/png;base64,{pixel}">',  # the invitation slips' QR codes
    ]
    for part in html_parts:
        _, pdf = render_pdf("families/pdf/consent.html", _consent_context(part), filename="x.pdf")
        assert images_in(pdf) == 1, part


def _consent_context(extra_html: str) -> dict:
    # The consent template prints its text as HTML made from Markdown; an <img> tag here
    # stands for what a template of the project itself may contain.
    from django.utils.safestring import mark_safe

    return {"terms_html": mark_safe(extra_html), "organisation": None, "parent": None}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x.png",
        "https://example.org/x.png",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "file:///static/../../etc/passwd",
        "file://evil.example/static/img/favicon.svg",
    ],
)
def test_the_fetcher_resolves_nothing_but_static_files(url):
    assert static_path(url) is None


def test_the_fetcher_resolves_static_files_through_the_finders(settings):
    found = static_path(f"file://{settings.BASE_DIR}/static/img/favicon.svg")
    assert found is not None and found.name == "favicon.svg"
    assert static_path("file:///static/img/favicon.svg") == found


# --- images refused when the text is saved -------------------------------------------------

IMAGE_TEXTS = [
    "Текст ![карта](http://127.0.0.1:8000/a.png)",
    "![](//127.0.0.1:8000/x.png)",
    "Ссылкой: ![схема][s]\n\n[s]: http://10.0.0.1/s.png",
    "[![вложенная](http://127.0.0.1/i.png)](http://example.org)",
]


@pytest.mark.parametrize("text", IMAGE_TEXTS)
def test_images_are_found_by_the_markdown_parser(text):
    assert image_sources(text)


def test_links_and_look_alikes_are_not_images():
    assert image_sources("[ссылка](http://example.org) и \\![не картинка](x) и `![код](x)`") == []


@pytest.mark.parametrize("text", IMAGE_TEXTS)
def test_a_version_with_an_image_is_refused_at_creation_and_edit(
    text, organisation, director, draft_version
):
    before = (DocumentVersion.objects.count(), AuditEntry.objects.count())
    with pytest.raises(PortalError) as refused:
        version_create(
            organisation=organisation,
            actor=director,
            title="Положение",
            text=text,
            order_number="9-О",
            order_date=draft_version.order_date,
            approver_position="Директор",
            approver_name="О.Б. Денисенко",
        )
    assert refused.value.message == IMAGES_REFUSED
    assert refused.value.field == "text"
    with pytest.raises(PortalError):
        version_edit(version=draft_version, actor=director, text=text)
    assert (DocumentVersion.objects.count(), AuditEntry.objects.count()) == before
    draft_version.refresh_from_db()
    assert "![" not in draft_version.text


def test_the_version_form_shows_the_refusal_beside_the_text(client, director, draft_version):
    client.force_login(director)
    url = reverse("version_edit", kwargs={"pk": draft_version.pk})
    response = client.post(
        url,
        {
            "title": draft_version.title,
            "order_number": draft_version.order_number,
            "order_date": f"{draft_version.order_date:%Y-%m-%d}",
            "approver_position": draft_version.approver_position,
            "approver_name": draft_version.approver_name,
            "text": "Текст ![x](http://127.0.0.1:9/x.png)",
        },
    )
    assert response.status_code == 200
    assert "Картинки в тексте не поддерживаются" in response.content.decode()
    draft_version.refresh_from_db()
    assert "![" not in draft_version.text


def test_a_notice_with_an_image_is_refused(organisation, admin, client):
    with pytest.raises(PortalError) as refused:
        notice_publish(organisation=organisation, actor=admin, text="![x](http://127.0.0.1/x)")
    assert (refused.value.message, refused.value.field) == (IMAGES_REFUSED, "text")
    client.force_login(admin)
    response = client.post(
        reverse("notice_publish"), {"text": "![x](http://127.0.0.1/x)"}, follow=True
    )
    assert "Картинки в тексте не поддерживаются" in response.content.decode()
    assert not ParentNotice.objects.exists()
