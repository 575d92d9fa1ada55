"""Private downloads: the portal's bytes without nginx, an X-Accel-Redirect behind it."""

from urllib.parse import quote

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile

from cdt_portal.downloads import private_file_response

FILENAME = "Приказ № 201-О от 30.11.2023.pdf"
PDF = b"%PDF-1.7\n% a stored order\n%%EOF\n"


def stored_file() -> FieldFile:
    name = default_storage.save("orders/2023/order-201.pdf", ContentFile(PDF))

    class Field:  # what FieldFile needs from its model field
        storage = default_storage

    return FieldFile(instance=None, field=Field(), name=name)


def test_without_nginx_the_portal_sends_the_bytes(settings):
    settings.PRIVATE_DOWNLOADS_VIA_NGINX = False
    response = private_file_response(
        stored_file(), filename=FILENAME, content_type="application/pdf"
    )
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(PDF))
    assert "X-Accel-Redirect" not in response
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"] == (f"inline; filename*=utf-8''{quote(FILENAME)}")


def test_behind_nginx_the_portal_names_the_file_and_sends_nothing(settings):
    settings.PRIVATE_DOWNLOADS_VIA_NGINX = True
    settings.PRIVATE_DOWNLOADS_NGINX_LOCATION = "/_private/"
    response = private_file_response(
        stored_file(), filename=FILENAME, content_type="application/pdf", inline=False
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == "/_private/orders/2023/order-201.pdf"
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"] == (f"attachment; filename*=utf-8''{quote(FILENAME)}")


def test_behind_nginx_a_stored_name_is_quoted_for_the_uri(settings):
    settings.PRIVATE_DOWNLOADS_VIA_NGINX = True
    settings.PRIVATE_DOWNLOADS_NGINX_LOCATION = "_private"
    name = default_storage.save("scans/скан 1.pdf", ContentFile(PDF))
    file = stored_file()
    file.name = name
    response = private_file_response(file, filename="скан.pdf", content_type="application/pdf")
    assert response["X-Accel-Redirect"] == "/_private/scans/" + quote("скан 1.pdf")
