"""On PostgreSQL a trigger refuses UPDATE and DELETE on the audit log, whoever asks.

SQLite is left without one: Django's test runner empties tables between transactional tests
with DELETE there (on PostgreSQL with TRUNCATE, which row triggers do not see).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION cdt_portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The audit log is append-only: % on cdt_portal_auditentry is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER cdt_portal_auditentry_append_only
    BEFORE UPDATE OR DELETE ON cdt_portal_auditentry
    FOR EACH ROW EXECUTE FUNCTION cdt_portal_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS cdt_portal_auditentry_append_only ON cdt_portal_auditentry;
DROP FUNCTION IF EXISTS cdt_portal_audit_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("cdt_portal", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
