"""An audit log its own application cannot erase (PostgreSQL), with the two database roles of
docs/deploy.md, step 2: an owner that runs the migrations, and the application's role with
only SELECT, INSERT, UPDATE and DELETE. Under the application's role TRUNCATE, DISABLE TRIGGER,
UPDATE and DELETE of the audit table all fail; the owner cannot TRUNCATE it either (the
statement trigger of migration cdt_portal/0006), nor change or delete a row (0002). `make
deploy-check` proves the same on the deployment the guide builds."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from cdt_portal.audit import log_action

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="roles are PostgreSQL's"),
]


@pytest.fixture
def roles():
    """The guide's two roles on the test database: the owner takes the tables over (as if it
    had run the migrations), the application's role gets DML only."""
    tag = uuid.uuid4().hex[:8]
    owner, app = f"cdt_test_owner_{tag}", f"cdt_test_app_{tag}"
    database = settings.DATABASES["default"]["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {owner} LOGIN; CREATE ROLE {app} LOGIN")
        cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {app}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {app}")
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" OWNER TO {owner}')
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}")
    yield owner, app
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ALTER TABLE "{table}" OWNER TO CURRENT_USER')
        cursor.execute(f"DROP OWNED BY {owner}, {app}; DROP ROLE {owner}, {app}")


def connect_as(role: str):
    default = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=default["NAME"],
        host=default.get("HOST") or "127.0.0.1",
        port=default.get("PORT") or 5432,
        user=role,
        autocommit=True,
    )


def refused(conn, statement: str) -> str:
    with pytest.raises(psycopg.Error) as error:
        conn.execute(statement)
    return str(error.value)


def test_the_application_role_cannot_erase_or_change_the_log(roles):
    from tests.factories import OrganisationFactory

    owner, app = roles
    organisation = OrganisationFactory()
    log_action(None, organisation, "test.recorded", {"n": 1})
    with connect_as(app) as conn:
        # It works as the portal needs: reading and writing rows, adding to the log.
        assert conn.execute("SELECT count(*) FROM cdt_portal_auditentry").fetchone() == (1,)
        assert "permission denied" in refused(conn, "TRUNCATE cdt_portal_auditentry")
        assert "must be owner" in refused(
            conn, "ALTER TABLE cdt_portal_auditentry DISABLE TRIGGER USER"
        )
        assert "append-only" in refused(conn, "UPDATE cdt_portal_auditentry SET action = 'x'")
        assert "append-only" in refused(conn, "DELETE FROM cdt_portal_auditentry")
    with connect_as(owner) as conn:
        assert "TRUNCATE of cdt_portal_auditentry is refused" in refused(
            conn, "TRUNCATE cdt_portal_auditentry"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT action FROM cdt_portal_auditentry")
        assert cursor.fetchall() == [("test.recorded",)]
