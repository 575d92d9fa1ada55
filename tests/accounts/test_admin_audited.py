"""The superuser's changes in the Django admin are recorded like everyone's: one entry, in the
organisation's log, and the organisation's stored sheets are looked up under a new key."""

from __future__ import annotations

from accounts.models import Department, Organisation, StudyGroup
from cdt_portal.models import AuditEntry


def test_renaming_a_group_in_the_admin_is_audited(client, superuser, group, organisation):
    client.force_login(superuser)
    revision = organisation.people_revision
    url = f"/admin/accounts/studygroup/{group.pk}/change/"
    response = client.post(
        url,
        {
            "organisation": organisation.pk,
            "name": "Юный скульптор",
            "chat_invite_link": "",
            "max_invite_link": "",
            "teachers": [t.pk for t in group.teachers.all()],
            "students": [s.pk for s in group.students.all()],
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/accounts/studygroup/")
    [entry] = AuditEntry.objects.filter(action__startswith="admin.")
    assert (entry.action, entry.actor_id, entry.organisation_id, entry.object_id) == (
        "admin.changed", superuser.pk, organisation.pk, str(group.pk),
    )  # fmt: skip
    assert entry.data == {"fields": ["name"]}
    assert StudyGroup.objects.get(pk=group.pk).name == "Юный скульптор"
    assert Organisation.objects.get(pk=organisation.pk).people_revision == revision + 1


def test_a_department_added_in_the_admin_is_audited(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/accounts/department/add/",
        {"slug": "uo-rayon", "full_name": "Управление образования района", "short_name": "УО"},
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/accounts/department/")
    department = Department.objects.get(slug="uo-rayon")
    [entry] = AuditEntry.objects.filter(action__startswith="admin.")
    assert (entry.action, entry.object_id, entry.organisation_id) == (
        "admin.added", str(department.pk), None,
    )  # fmt: skip
    assert entry.data == {"fields": ["full_name", "short_name", "slug"]}
