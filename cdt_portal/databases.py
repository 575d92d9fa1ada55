"""Which role changes the schema: the tables' owner, where the deployment has one.

In production the portal connects as a role with SELECT, INSERT, UPDATE and DELETE only; the
tables belong to another role (docs/deploy.md, step 2), named by DATABASE_OWNER_URL
(settings.DATABASE_OWNER), which `migrate` and `restore` use. Without it (a developer's
SQLite, the tests) they use the usual connection.

The owner's credentials are put on the *default* connection for the length of the command
(`as_owner`), not on a connection alias of their own: a migration's RunPython code reads and writes
through the default connection, which, connected as the portal's role, would wait for the
owner's uncommitted tables for ever.
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

CREDENTIALS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


def as_owner() -> bool:
    """Point this process's default connection at the owner's role; False (nothing changed)
    when the deployment has none."""
    owner = settings.DATABASE_OWNER
    if owner is None:
        return False
    default = connections[DEFAULT_DB_ALIAS]
    default.close()
    for key in CREDENTIALS:
        default.settings_dict[key] = owner.get(key, default.settings_dict.get(key))
    return True
