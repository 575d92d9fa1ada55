"""The families' models moved from onboarding to families without touching a row (their tables
keep their names), and their content types moved with them in place: an audit entry written
about a consent before the move still names that consent after it."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from accounts.models import Role
from cdt_portal.audit import history
from cdt_portal.models import AuditEntry
from families.models import ConsentRecord
from tests.factories import GuardianshipFactory, OrganisationFactory, UserFactory
from tests.migrating import migrate

# Before the move: onboarding's last migration that knew these models, and no families.
BEFORE = [("onboarding", "0008_parent_deadlines_digest"), ("families", None)]
MOVED = {
    "parentnotice",
    "noticeacknowledgement",
    "studentnotice",
    "studentnoticeacknowledgement",
    "consenttext",
    "consentrecord",
    "consentdetails",
    "familychoice",
    "parentdeadline",
    "parentreminder",
}


@pytest.mark.django_db(transaction=True)
def test_an_entry_about_a_consent_from_before_the_move_still_names_it():
    organisation = OrganisationFactory()
    parent = UserFactory(organisation=organisation, roles=[Role.PARENT])
    student = UserFactory(organisation=organisation, roles=[Role.STUDENT])
    GuardianshipFactory(parent=parent, student=student)
    old = migrate(BEFORE)
    try:
        text = old.get_model("onboarding", "ConsentText").objects.create(
            organisation_id=organisation.pk, text="Условия", text_sha256="0" * 64
        )
        record = old.get_model("onboarding", "ConsentRecord").objects.create(
            parent_id=parent.pk, student_id=student.pk, action="given", consent_text_id=text.pk
        )
        # The content type as the portal had it before the move: under "onboarding".
        old_type, _ = old.get_model("contenttypes", "ContentType").objects.get_or_create(
            app_label="onboarding", model="consentrecord"
        )
        entry = old.get_model("cdt_portal", "AuditEntry").objects.create(
            organisation_id=organisation.pk,
            actor_id=parent.pk,
            actor_name=parent.full_name,
            action="consent.given",
            content_type_id=old_type.pk,
            object_id=str(record.pk),
            object_repr="согласие",
            data={"student": student.pk},
        )
    finally:
        migrate()

    ContentType.objects.clear_cache()  # this process cached the types before the move
    moved = ConsentRecord.objects.get(pk=record.pk)
    assert (moved.parent, moved.student, moved.action) == (parent, student, "given")
    [found] = history(moved)
    assert found.pk == entry.pk
    assert found.content_type_id == old_type.pk  # the same row, renamed
    assert found.content_type.model_class() is ConsentRecord
    assert (found.content_type.app_label, found.content_type.model) == ("families", "consentrecord")
    assert AuditEntry.objects.get(pk=entry.pk).data == {"student": student.pk}
    left_behind = ContentType.objects.filter(app_label="onboarding", model__in=MOVED)
    assert not left_behind.exists()
    # The parents' reminders are letters of the outbox since families' 0003: a database made
    # after that never had their content type (tests/families/test_parent_reminder_migration.py).
    # A student's own consent (families' 0004) and the signature terms (0005) were born in
    # families.
    still_models = MOVED - {"parentreminder"} | {"studentconsent", "signatureterms"}
    assert {t.model for t in ContentType.objects.filter(app_label="families")} == still_models
