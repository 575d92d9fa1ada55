"""On PostgreSQL a statement trigger refuses TRUNCATE of the audit log too (row triggers do not
see it), for every role but a database superuser, who could switch any trigger off anyway.

Django's test runner empties tables between transactional tests with TRUNCATE, as the
superuser it connects as: that still works. In production the portal connects as a role that
neither owns the table (so it cannot disable the triggers) nor holds TRUNCATE
(docs/deploy.md, step 2); this trigger stops the owner as well.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION cdt_portal_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'The audit log is append-only: TRUNCATE of cdt_portal_auditentry is refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cdt_portal_auditentry_no_truncate
    BEFORE TRUNCATE ON cdt_portal_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION cdt_portal_audit_no_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS cdt_portal_auditentry_no_truncate ON cdt_portal_auditentry;
DROP FUNCTION IF EXISTS cdt_portal_audit_no_truncate();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("cdt_portal", "0005_job_heartbeat")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
