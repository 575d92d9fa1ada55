"""The TOTP key typed by hand is legible (issue 21): in groups of four, in a monospace face
that tells «O» from «0» (a class of static/css/portal.css, no inline style), and the page says
that the key has no zero."""

from __future__ import annotations

import re
from base64 import b32encode
from binascii import unhexlify
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from signin.views import PENDING_KEY
from tests.factories import PASSWORD

SETUP = "/accounts/two-factor/setup/"


def test_the_key_is_grouped_by_four_in_the_legible_font(client, director, settings):
    settings.REQUIRE_2FA_FOR_MANAGERS = True
    client.post(reverse("login"), {"username": "director", "password": PASSWORD})
    page = client.get(SETUP).content.decode()
    secret = b32encode(unhexlify(client.session[PENDING_KEY].encode())).decode()
    shown = re.search(
        r'<p class="totp-secret" id="totp-secret" data-secret="(\w+)">(.*?)</p>', page
    )
    assert shown and shown.group(1) == secret
    groups = re.findall(r'<span class="totp-group">(\w+)</span>', shown.group(2))
    assert "".join(groups) == secret and {len(g) for g in groups[:-1]} == {4}
    assert 1 <= len(groups[-1]) <= 4
    # The text copied from the page is the key in groups of four separated by spaces.
    assert re.sub(r"<[^>]+>", "", shown.group(2)) == " ".join(groups)
    assert "цифр 0 и 1 в ключе нет" in page
    assert "style=" not in page


def test_the_class_sets_a_monospace_face_with_a_distinct_zero():
    css = (Path(settings.BASE_DIR) / "static" / "css" / "portal.css").read_text()
    rule = re.search(r"\.totp-secret \{(.*?)\}", css, re.S).group(1)
    assert "monospace" in rule and "slashed-zero" in rule and "word-spacing" in rule
    assert re.search(r"\.totp-group \{\s*white-space: nowrap;", css)
