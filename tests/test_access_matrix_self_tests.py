"""Self-tests of the access matrix (tests/test_access_matrix.py): the guard fails where it
must, on a URLconf with throwaway views added: a view without a rule, and a view that forgets
the organisation."""

from __future__ import annotations

import sys
import types

import pytest
from django.shortcuts import get_object_or_404
from django.test import override_settings
from django.urls import get_resolver, path

from accounts.models import User
from accounts.permissions import MANAGERS, get_person_for_user, roles_required
from tests import access_matrix_support as support
from tests.access_matrix_support import (
    OK,
    page,
    routes_without_rules,
    rule,
    views_without_access_rule,
    walk,
)
from tests.access_matrix_table import TABLE

world = support.world

# Self-tests: the guard fails where it must ----------------------------------------------------

THROWAWAY_URLCONF = "tests._throwaway_urls"


@roles_required(MANAGERS)
def unscoped_person(request, pk):
    """Forgets the organisation: any person of any organisation by id."""
    get_object_or_404(User, pk=pk)
    return _ok()


@roles_required(MANAGERS)
def scoped_person(request, pk):
    get_person_for_user(request, pk)
    return _ok()


def no_rule(request):
    return _ok()


def _ok():
    from django.http import HttpResponse

    return HttpResponse("ok")


@pytest.fixture
def throwaway_urlconf():
    """The project's URLconf plus three throwaway views, installed as ROOT_URLCONF."""
    module = types.ModuleType(THROWAWAY_URLCONF)
    module.urlpatterns = [
        *get_resolver().url_patterns,
        path("throwaway/no-rule/", no_rule),
        path("throwaway/<int:pk>/unscoped/", unscoped_person),
        path("throwaway/<int:pk>/scoped/", scoped_person),
    ]
    sys.modules[THROWAWAY_URLCONF] = module
    with override_settings(ROOT_URLCONF=THROWAWAY_URLCONF):
        yield THROWAWAY_URLCONF
    del sys.modules[THROWAWAY_URLCONF]


def test_the_matrix_catches_a_new_view_without_a_rule(throwaway_urlconf):
    assert routes_without_rules(TABLE) == [
        "throwaway/no-rule/",
        "throwaway/<int:pk>/unscoped/",
        "throwaway/<int:pk>/scoped/",
    ]
    assert views_without_access_rule() == ["throwaway/no-rule/"]


def test_the_matrix_catches_a_view_that_forgets_the_organisation(world, throwaway_urlconf):
    """Both throwaway views are declared like `people/<pk>/` (the outsider gets 404); the
    walk reports the unscoped one, and only it, for the outsider."""
    person_row = TABLE["people/<int:pk>/"]
    table = {
        **TABLE,
        "throwaway/no-rule/": page(rule(OK)),
        "throwaway/<int:pk>/unscoped/": person_row,
        "throwaway/<int:pk>/scoped/": person_row,
    }
    wrong, _ = walk(world, "outsider", table, only=lambda route: route.startswith("throwaway/"))
    assert wrong == [
        f"GET /throwaway/{world.teacher.pk}/unscoped/ [throwaway/<int:pk>/unscoped/]: "
        "expected 404, got 200",
        f"POST /throwaway/{world.teacher.pk}/unscoped/ [throwaway/<int:pk>/unscoped/]: "
        "expected 404, got 200",
    ]
