"""Every URL pattern and method of the project, for anonymous and every persona, against one
declared table of exact answers.

- The table is keyed by the route pattern (`regulation/versions/<int:pk>/order.pdf`), not by
  the URL name, so two patterns sharing a view or a name are both requested; a pattern without
  a row fails `test_every_url_pattern_has_an_access_rule`.
- Each pattern declares GET and POST. An answer is a status code, or `("redirect", target)`
  with the exact target (`{next}` is the requested path, as the login page receives it; `{w.x}`
  reads the world, e.g. `/people/{w.teacher.pk}/`).
- Every request runs in a fresh world: the world is built once per test, then each request runs
  inside a savepoint that is rolled back afterwards, so no action (an approval, a deactivation,
  a cancelled request) is seen by the next request and the walk never depends on URL order.
- The walk sends no e-mail: the registration request's `send` step meets a draft request and is
  refused, and the people asked to read the regulation have no e-mail address.

Split by topic: this module checks that the table covers the URLconf and walks the matrix;
test_access_matrix_boundaries.py holds Django's admin and the organisation's boundary,
test_access_matrix_self_tests.py shows the guard fails where it must. The machinery is
tests/access_matrix_support.py, the table tests/access_matrix_table.py; other modules take
both from here.
"""

from __future__ import annotations

import pytest
from django.core import mail

from tests import access_matrix_support as support
from tests.access_matrix_support import (
    METHODS,
    PERSONAS,
    build_world,
    project_patterns,
    request_in_fresh_world,
    routes_without_rules,
    url_for,
    views_without_access_rule,
    walk,
)
from tests.access_matrix_table import TABLE

# What other modules read from here (tests/test_no_get_writes.py, tests/trust/, tests/hardening/).
__all__ = ["PERSONAS", "TABLE", "build_world", "project_patterns", "url_for", "world"]

world = support.world


# The table covers the URLconf -----------------------------------------------------------------


def test_every_url_pattern_has_an_access_rule():
    missing = routes_without_rules(TABLE)
    assert missing == [], f"URL patterns without a row in the access table: {missing}"
    stale = set(TABLE) - {route for route, _ in project_patterns()}
    assert stale == set(), f"Rows for URL patterns that no longer exist: {stale}"


def test_every_row_answers_every_persona_and_method():
    incomplete = [
        f"{route} {method}"
        for route, row in TABLE.items()
        for method in METHODS
        if set(row.answers(method)) != set(PERSONAS)
    ]
    assert incomplete == [], f"Rows missing a persona: {incomplete}"


def test_every_project_view_declares_its_access_rule():
    undeclared = views_without_access_rule()
    assert undeclared == [], f"Views without public/login_only/roles_required: {undeclared}"


def test_patterns_sharing_a_view_or_a_name_are_each_in_the_table():
    """`regulation/order.pdf`, `documents/<code>/order.pdf` and
    `regulation/versions/<pk>/order.pdf` share a view: each is requested, with its own row."""
    by_view: dict[object, list[str]] = {}
    for route, pattern in project_patterns():
        by_view.setdefault(pattern.callback, []).append(route)
    shared = [routes for routes in by_view.values() if len(routes) > 1]
    assert [
        "regulation/order.pdf",
        "documents/<slug:code>/order.pdf",
        "regulation/versions/<int:pk>/order.pdf",
    ] in shared
    assert all(route in TABLE for routes in shared for route in routes)


# The matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_url_and_method_answers_each_persona_as_declared(world, persona):
    wrong, _ = walk(world, persona, TABLE)
    assert wrong == [], f"{persona}:\n" + "\n".join(wrong)
    assert mail.outbox == []


def test_the_walk_does_not_depend_on_url_order(world):
    """Every request meets the same world: walked backwards, the URLs give the answers the
    table declares, as they do walked forwards (the matrix's `[admin]` case), so both orders
    answer alike. The administrator acts the most, so the check is made for them."""
    wrong, backwards = walk(world, "admin", TABLE, reverse_order=True)
    assert wrong == [], "admin, backwards:\n" + "\n".join(wrong)
    assert len(backwards) == len(TABLE) * len(METHODS)
    assert mail.outbox == []


def test_the_send_step_meets_a_draft_request_and_sends_nothing(world):
    from onboarding.models import RegistrationRequest, RequestStatus

    row = TABLE["onboarding/request/send/"]
    answer, sent = request_in_fresh_world(world, row, "/onboarding/request/send/", "POST", "admin")
    assert answer == "redirect /onboarding/request/"
    assert sent == []
    # The savepoint undid the preparation: the ready request is there for the next request.
    assert RegistrationRequest.objects.get(pk=world.ready_request.pk).status == RequestStatus.READY
