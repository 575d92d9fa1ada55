"""Finding 10: the address recorded with confirmations and consents was the proxy's. Now
X-Forwarded-For is read, but only from configured proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from acknowledgements.models import Acknowledgement
from cdt_portal.models import AuditEntry
from cdt_portal.net import client_ip
from families.models import ConsentRecord
from tests.factories import PASSWORD
from tests.families.builders import FILLED_CONSENT

PROXY = "10.0.0.5"


def ip(remote: str, forwarded: str | None = None) -> str | None:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert ip("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_a_forged_header_from_an_untrusted_client_is_ignored(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    assert ip("203.0.113.9", "1.2.3.4") == "203.0.113.9"


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([PROXY], PROXY, "198.51.100.7", "198.51.100.7"),
        # The client may write anything on the left; the proxy appends what it saw.
        ([PROXY], PROXY, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        # Two proxies of ours: the right-most address that is not one of them.
        (["10.0.0.0/8"], "10.0.0.5", "198.51.100.7, 10.1.1.1", "198.51.100.7"),
        (["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", "198.51.100.7", "198.51.100.7"),
        ([PROXY], f"::ffff:{PROXY}", "198.51.100.7", "198.51.100.7"),
        # Malformed values: nothing after them can be vouched for; the proxy's view stands.
        ([PROXY], PROXY, "198.51.100.7, not-an-ip", PROXY),
        ([PROXY], PROXY, "", PROXY),
        ([PROXY], PROXY, " , ", PROXY),
        ([PROXY], PROXY, "198.51.100.7:443", PROXY),
        ([PROXY], PROXY, "<script>", PROXY),
        ([PROXY], PROXY, "2001:db8::7", "2001:db8::7"),
        ([PROXY], PROXY, " 198.51.100.7 ", "198.51.100.7"),
    ],
)
def test_through_a_trusted_proxy_the_clients_address_is_read(
    settings, trusted, remote, forwarded, expected
):
    settings.TRUSTED_PROXIES = trusted
    assert ip(remote, forwarded) == expected


def test_a_missing_or_broken_remote_address_gives_none(settings):
    assert ip("") is None
    assert ip("garbage") is None


def test_a_consent_through_the_proxy_records_the_clients_address(settings, client, parent, student):
    settings.TRUSTED_PROXIES = [PROXY]
    client.force_login(parent)
    client.post(
        reverse("consent_give", kwargs={"pk": student.pk}),
        {**FILLED_CONSENT, "confirm": "1", "password": PASSWORD, "terms": "on"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7",
    )
    assert ConsentRecord.objects.get().ip_address == "198.51.100.7"
    assert AuditEntry.objects.get(action="consent.given").ip_address == "198.51.100.7"


def test_a_forged_header_on_a_consent_is_ignored(settings, client, parent, student):
    settings.TRUSTED_PROXIES = [PROXY]
    client.force_login(parent)
    client.post(
        reverse("consent_give", kwargs={"pk": student.pk}),
        {**FILLED_CONSENT, "confirm": "1", "password": PASSWORD, "terms": "on"},
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert ConsentRecord.objects.get().ip_address == "203.0.113.9"


def test_an_online_confirmation_through_the_proxy_records_the_clients_address(
    settings, client, teacher, regulation
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    client.force_login(teacher)
    response = client.post(
        reverse("version_confirm", kwargs={"pk": regulation.pk}),
        {"read": "on", "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 302
    ack = Acknowledgement.objects.get(person=teacher)
    assert ack.ip_address == "198.51.100.7"
