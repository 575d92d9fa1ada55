"""A student switched off in the Django admin, not on the portal's page, leaves studies all
the same: the admin's save records the portal's own «person.deactivated» entry, and the
consents' identity data are erased after the retention as they are after the portal's switch
(before, the nightly job never found the end of studies and kept the data for good)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from django.conf import settings
from django.contrib import admin as django_admin

from accounts.models import User
from cdt_portal.models import AuditEntry
from families.models import ConsentDetails
from families.services import consent_data_erase
from tests.families.builders import give_consent

RETENTION = dt.timedelta(days=settings.CONSENT_RETENTION_DAYS)


def admin_saves(rf, superuser, person, *, active: bool) -> None:
    """What the Django admin's change form does on saving: the model saved, then
    `save_model`'s record (accounts.admin.AuditedAdmin)."""
    request = rf.post("/admin/")
    request.user = superuser
    person.is_active = active
    django_admin.site._registry[User].save_model(
        request, person, SimpleNamespace(changed_data=["is_active"]), True
    )


def test_a_student_switched_off_in_the_admin_has_the_consent_erased(rf, superuser, parent, student):
    given = give_consent(parent, student)
    admin_saves(rf, superuser, student, active=False)
    left = AuditEntry.objects.get(action="person.deactivated")
    assert (left.actor_id, left.object_id) == (superuser.pk, str(student.pk))
    assert AuditEntry.objects.filter(action="admin.changed").count() == 1

    assert consent_data_erase(now=left.at + RETENTION + dt.timedelta(days=1)) == 1
    assert ConsentDetails.objects.get(record=given).parent_full_name == ""


def test_switched_back_on_in_the_admin_the_consent_is_kept(rf, superuser, parent, student):
    give_consent(parent, student)
    admin_saves(rf, superuser, student, active=False)
    admin_saves(rf, superuser, student, active=True)
    assert AuditEntry.objects.filter(action="person.activated").count() == 1
    assert consent_data_erase(now=AuditEntry.objects.latest("at").at + RETENTION * 2) == 0
    assert ConsentDetails.objects.get().erased_at is None
