"""The versions' own event table becomes part of the one audit log.

Each VersionEvent row is copied into cdt_portal.AuditEntry as "version.<action>" about its
version, keeping when it happened and who did it; then the table is dropped.
"""

from django.db import migrations

CONTENT_TYPE = {"app_label": "acknowledgements", "model": "documentversion"}


def full_name(user) -> str:
    """Ф.И.О. as `User.full_name` writes it (historical models have no properties)."""
    if user is None:
        return ""
    return " ".join(p for p in (user.last_name, user.first_name, user.patronymic) if p)


def version_repr(version) -> str:
    """As `DocumentVersion.__str__` writes it."""
    return f"{version.title} (ред. {version.number})"[:300]


def audit_fields(event, content_type_id: int) -> dict:
    """One AuditEntry's fields for one VersionEvent."""
    version = event.version
    return {
        "organisation_id": version.document.organisation_id,
        "actor_id": event.actor_id,
        "actor_name": full_name(event.actor),
        "action": f"version.{event.action}",
        "content_type_id": content_type_id,
        "object_id": str(version.pk),
        "object_repr": version_repr(version),
        "data": {"comment": event.comment} if event.comment else {},
        "at": event.at,
        "ip_address": None,
    }


def copy_events_to_audit_log(apps, schema_editor):
    db = schema_editor.connection.alias
    VersionEvent = apps.get_model("acknowledgements", "VersionEvent")
    AuditEntry = apps.get_model("cdt_portal", "AuditEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.using(db).get_or_create(**CONTENT_TYPE)
    # Migrating back keeps the copied entries (the log is append-only), so migrating forward
    # again must not copy them twice.
    copied = set(
        AuditEntry.objects.using(db)
        .filter(content_type_id=content_type.pk, action__startswith="version.")
        .values_list("object_id", "action", "at")
    )
    events = (
        VersionEvent.objects.using(db)
        .select_related("version__document", "actor")
        .order_by("at", "pk")
    )
    entries = (audit_fields(event, content_type.pk) for event in events.iterator())
    AuditEntry.objects.using(db).bulk_create(
        (
            AuditEntry(**fields)
            for fields in entries
            if (fields["object_id"], fields["action"], fields["at"]) not in copied
        ),
        batch_size=500,
    )


def copy_audit_log_to_events(apps, schema_editor):
    """Going back, the version entries are copied into the re-created table. The audit log
    keeps them too: it is append-only, and PostgreSQL refuses to delete from it."""
    db = schema_editor.connection.alias
    VersionEvent = apps.get_model("acknowledgements", "VersionEvent")
    AuditEntry = apps.get_model("cdt_portal", "AuditEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type = ContentType.objects.using(db).filter(**CONTENT_TYPE).first()
    if content_type is None:
        return
    entries = AuditEntry.objects.using(db).filter(
        content_type=content_type, action__startswith="version."
    )
    for entry in entries.order_by("at", "pk").iterator():
        event = VersionEvent.objects.using(db).create(
            version_id=int(entry.object_id),
            action=entry.action.removeprefix("version."),
            actor_id=entry.actor_id,
            comment=entry.data.get("comment", ""),
        )
        # `at` is set on insert (auto_now_add); the entry's own time is put back after.
        VersionEvent.objects.using(db).filter(pk=event.pk).update(at=entry.at)


class Migration(migrations.Migration):
    dependencies = [
        ("acknowledgements", "0001_initial"),
        ("cdt_portal", "0002_audit_append_only"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(copy_events_to_audit_log, copy_audit_log_to_events),
        migrations.DeleteModel(name="VersionEvent"),
    ]
