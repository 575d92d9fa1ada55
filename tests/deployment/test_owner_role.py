"""`migrate` and `restore` act as the tables' owner (DATABASE_OWNER_URL) while the portal
connects as its own role (docs/deploy.md, step 2); without an owner nothing changes."""

from __future__ import annotations

from django.db import connections

from cdt_portal.databases import as_owner


def test_without_an_owner_the_default_connection_is_left_as_it_is(settings):
    settings.DATABASE_OWNER = None
    before = dict(connections["default"].settings_dict)
    assert as_owner() is False
    assert connections["default"].settings_dict == before


def test_with_an_owner_the_default_connection_takes_its_credentials(settings):
    default = connections["default"].settings_dict
    saved = {key: default.get(key) for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")}
    settings.DATABASE_OWNER = {**default, "USER": "cdt_portal_owner", "PASSWORD": "secret"}
    try:
        assert as_owner() is True
        assert (default["USER"], default["PASSWORD"]) == ("cdt_portal_owner", "secret")
        assert default["NAME"] == saved["NAME"]
    finally:
        connections["default"].close()
        default.update(saved)
