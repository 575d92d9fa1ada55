"""Zero server errors under fuzzing: every URL pattern of the project, for anonymous and every
persona, GET and POST, with query parameters and form fields (the `next`-like ones among them)
set to garbage, overlong, NUL, Unicode and empty values. A sample of values per request (a
fixed seed, so a failure repeats); any 5xx fails, and the counts by status are printed at
the end of the run (tests/counts.py).

A 500 found by the last fuzz (64 of 66): `?next=abc` went to `redirect()`, which took the text
for a view name; every `next` now goes through `cdt_portal.redirects.safe_next`."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from django.test import Client

from accounts.models import User
from tests import test_access_matrix as matrix
from tests.counts import report
from tests.hardening.test_bad_input import FUZZ, GET_PARAMS, answer, each_page

world = matrix.world

SEED = 20261206
VALUES = [
    *FUZZ,
    "x" * 5000,
    "ёЁ Щ𝔘\u202eевед\u200b",
    "😀" * 50,
    "/\\evil.example/",
    "//evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "0",
    "[]",
    "{}",
]
# What forms and redirects read besides the list pages' filters.
NEXT_LIKE = ["next", "return", "redirect", "back", "url"]
FORM_FIELDS = [
    "pk", "person", "people", "group", "action", "to", "code", "password", "username", "email",
    "text", "title", "reason", "date", "read_by", "order_date", "order_number", "subject",
    "last_name", "first_name", "roles", "state", "note", "confirm", "cancel", "retry", "unlink",
    "send_code", "new_password1", "new_password2", "paper_date", "blank", "link", "messenger",
]  # fmt: skip
PER_REQUEST = 2


@pytest.mark.parametrize("persona", matrix.PERSONAS)
def test_no_answer_is_a_server_error(world, persona):
    client = Client()
    if persona != "anonymous":
        client.force_login(User.objects.get(pk=getattr(world, persona).pk))
    chance = random.Random(f"{SEED}:{persona}")
    statuses: Counter[int] = Counter()
    crashes = []
    for _route, url in each_page(world):
        for method, names in (("GET", GET_PARAMS + NEXT_LIKE), ("POST", FORM_FIELDS + NEXT_LIKE)):
            for value in chance.sample(VALUES, PER_REQUEST):
                status = answer(client, method, url, dict.fromkeys(names, value))
                statuses[status] += 1
                if status >= 500:
                    crashes.append(f"{method} {url} {value[:40]!r}: {status}")
    counts = dict(sorted(statuses.items()))
    report(f"fuzz, {persona}: {sum(statuses.values())} requests, by status {counts}")
    assert crashes == [], f"{len(crashes)} server errors:\n" + "\n".join(crashes[:40])
