"""The request's and the teachers' event tables become entries of the one audit log.

Each event keeps its time, its actor and its organisation. A request event becomes
"request.<to_status>" about the request, with {"from", "to", "comment"}; a teacher's status
event becomes "sferum_status.changed" about the teacher (the person: their page shows their
history, and the status row may not exist before a first step), with {"from", "to"}.

A ready request gets its e-mail's Message-ID now if it has none: the .eml download no longer
assigns one, it only reads it.

Going back leaves the copied entries in the audit log (which refuses deletes) and the event
tables empty.
"""

from email.utils import make_msgid

from django.conf import settings
from django.db import migrations


def _name(user) -> str:
    if user is None:
        return ""
    return " ".join(p for p in (user.last_name, user.first_name, user.patronymic) if p) or (
        user.username
    )


def copy_events(apps, schema_editor):
    AuditEntry = apps.get_model("cdt_portal", "AuditEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    RequestEvent = apps.get_model("onboarding", "RequestEvent")
    TeacherStatusEvent = apps.get_model("onboarding", "TeacherStatusEvent")
    RegistrationRequest = apps.get_model("onboarding", "RegistrationRequest")
    user_app, user_model = settings.AUTH_USER_MODEL.lower().split(".")

    request_type, _ = ContentType.objects.get_or_create(
        app_label="onboarding", model="registrationrequest"
    )
    person_type, _ = ContentType.objects.get_or_create(app_label=user_app, model=user_model)
    status_labels = dict(
        RegistrationRequest._meta.get_field("status").choices
    )

    entries = []
    for event in RequestEvent.objects.select_related("request__organisation", "actor").order_by(
        "at", "pk"
    ):
        request = event.request
        entries.append(
            AuditEntry(
                organisation_id=request.organisation_id,
                actor=event.actor,
                actor_name=_name(event.actor),
                action=f"request.{event.to_status}",
                content_type=request_type,
                object_id=str(request.pk),
                object_repr=(
                    f"{request.organisation.short_name}: "
                    f"{status_labels.get(request.status, request.status)}"
                )[:300],
                data={
                    "from": event.from_status,
                    "to": event.to_status,
                    "comment": event.comment,
                },
                at=event.at,
            )
        )
    for event in TeacherStatusEvent.objects.select_related("person", "actor").order_by("at", "pk"):
        person = event.person
        entries.append(
            AuditEntry(
                organisation_id=person.organisation_id,
                actor=event.actor,
                actor_name=_name(event.actor),
                action="sferum_status.changed",
                content_type=person_type,
                object_id=str(person.pk),
                object_repr=_name(person)[:300],
                data={"from": event.from_status, "to": event.to_status},
                at=event.at,
            )
        )
    AuditEntry.objects.bulk_create(entries, batch_size=500)

    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    for request in RegistrationRequest.objects.filter(status="ready", message_id=""):
        request.message_id = make_msgid(domain=domain)
        request.save(update_fields=["message_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("cdt_portal", "0002_audit_append_only"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("onboarding", "0002_parents"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(copy_events, migrations.RunPython.noop)]
