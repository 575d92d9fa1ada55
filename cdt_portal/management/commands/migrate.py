"""`manage.py migrate`, as the tables' owner when the deployment has one
(`cdt_portal.databases`): typed as docs/deploy.md shows it, it never runs as the portal's own
role, which may not create or alter tables."""

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS

from cdt_portal.databases import as_owner


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        if options["database"] == DEFAULT_DB_ALIAS:
            as_owner()
        return super().handle(*args, **options)
