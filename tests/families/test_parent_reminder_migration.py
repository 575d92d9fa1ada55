"""The parents' reminders moved into the core's outbox (families' 0003): every old row, of each
status, became a letter of its organisation's batch of that kind and day, the parents' pages and
the schedule read them from there, and the old table is gone; going back copies them back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from cdt_portal import outbox
from cdt_portal.models import Delivery
from families.models import ParentDeadline
from families.selectors import (
    parent_reminder_history,
    parents_due_reminder,
    recent_parent_reminders,
)
from tests.factories import GuardianshipFactory, OrganisationFactory, UserFactory
from tests.families.builders import make_notice
from tests.migrating import migrate

BEFORE = [("families", "0002_content_types")]
TABLE = "onboarding_parentreminder"


def _parent(organisation, username: str, email: str):
    parent = UserFactory(
        organisation=organisation, username=username, email=email, roles=[Role.PARENT]
    )
    GuardianshipFactory(parent=parent, student=UserFactory(organisation=organisation))
    return parent


def _old_rows(Reminder) -> list[tuple]:
    return sorted(
        Reminder.objects.values_list(
            "organisation_id", "parent_id", "kind", "on_date", "at", "status", "reason"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_old_reminders_become_letters_that_the_pages_show_and_go_back(client):
    organisation = OrganisationFactory()
    admin = UserFactory(organisation=organisation, roles=[Role.ADMIN])
    sent_to = _parent(organisation, "sent", "sent@example.ru")
    refused = _parent(organisation, "refused", "refused@example.ru")
    nobody = _parent(organisation, "nobody", "")
    today = timezone.localdate()
    day = today - dt.timedelta(days=3)
    at = timezone.now().replace(microsecond=0) - dt.timedelta(days=3)

    old = migrate(BEFORE)
    try:
        assert TABLE in connection.introspection.table_names()
        Reminder = old.get_model("families", "ParentReminder")
        made = [
            Reminder.objects.create(
                organisation_id=organisation.pk, parent_id=sent_to.pk, kind="consent",
                on_date=day - dt.timedelta(days=1), at=at - dt.timedelta(days=1), status="sent",
            ),
            Reminder.objects.create(
                organisation_id=organisation.pk, parent_id=sent_to.pk, kind="notice",
                on_date=day, at=at, status="sent",
            ),
            Reminder.objects.create(
                organisation_id=organisation.pk, parent_id=refused.pk, kind="notice",
                on_date=day, at=at + dt.timedelta(seconds=1), status="failed",
                reason="550 ящик не существует",
            ),
            Reminder.objects.create(
                organisation_id=organisation.pk, parent_id=nobody.pk, kind="notice",
                on_date=day, at=at + dt.timedelta(seconds=2), status="no_email",
                reason="нет адреса e-mail",
            ),
        ]  # fmt: skip
        before = _old_rows(Reminder)
    finally:
        migrate()

    assert TABLE not in connection.introspection.table_names()
    letters = list(Delivery.objects.filter(kind="parent_reminder").order_by("pk"))
    batch = f"parent-reminders:{organisation.pk}:{{}}:{{:%Y-%m-%d}}"
    assert [
        (
            d.batch, d.organisation_id, d.person_id, d.email, d.status, d.reason, d.data,
            d.created_at, d.updated_at,
        )
        for d in letters
    ] == [
        (
            batch.format("consent", day - dt.timedelta(days=1)), organisation.pk, sent_to.pk,
            "sent@example.ru", "sent", "",
            {"kind": "consent", "on_date": (day - dt.timedelta(days=1)).isoformat()},
            made[0].at, made[0].at,
        ),
        (
            batch.format("notice", day), organisation.pk, sent_to.pk, "sent@example.ru",
            "sent", "", {"kind": "notice", "on_date": day.isoformat()}, made[1].at, made[1].at,
        ),
        (
            batch.format("notice", day), organisation.pk, refused.pk, "refused@example.ru",
            "failed", "550 ящик не существует", {"kind": "notice", "on_date": day.isoformat()},
            made[2].at, made[2].at,
        ),
        (
            batch.format("notice", day), organisation.pk, nobody.pk, "", "no_email",
            "нет адреса e-mail", {"kind": "notice", "on_date": day.isoformat()},
            made[3].at, made[3].at,
        ),
    ]  # fmt: skip

    # The schedule counts them: each parent was reminded of the notice on that day, so
    # nobody is due again before the next milestone.
    deadline = ParentDeadline.objects.create(
        organisation=organisation,
        kind="notice",
        due_date=today + dt.timedelta(days=10),
        reminders_from=day,
    )
    notice = make_notice(organisation, admin)
    assert parent_reminder_history(deadline) == {
        sent_to.pk: (1, day),
        refused.pk: (1, day),
        nobody.pk: (1, day),
    }
    assert parents_due_reminder(deadline, today=today) == []
    rows = recent_parent_reminders(organisation, "notice")
    assert [(r.on_date, r.parent, r.status_label, r.reason) for r in rows] == [
        (day, nobody, "нет e-mail: напомнить лично", "нет адреса e-mail"),
        (day, refused, "не отправлено", "550 ящик не существует"),
        (day, sent_to, "отправлено", ""),
    ]
    assert [r.on_date for r in recent_parent_reminders(organisation, "consent")] == [
        day - dt.timedelta(days=1)
    ]

    # The parents' pages list them as before.
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert notice.text.split(".")[0] in page
    on = f"{day:%d.%m.%Y}"
    assert f"{on} — {sent_to.full_name}: отправлено<" in page
    assert f"{on} — {refused.full_name}: не отправлено (550 ящик не существует)" in page
    assert f"{on} — {nobody.full_name}: нет e-mail: напомнить лично (нет адреса e-mail)" in page
    page = client.get(reverse("consents")).content.decode()
    assert f"{day - dt.timedelta(days=1):%d.%m.%Y} — {sent_to.full_name}: отправлено" in page

    # Back: the old rows as they were, and a letter the old model cannot name (not confirmed)
    # as «не отправлено» with its reason.
    outbox.record(
        batch=batch.format("notice", today),
        kind="parent_reminder",
        organisation_id=organisation.pk,
        recipients=[
            outbox.Recipient(
                refused, refused.email, {"kind": "notice", "on_date": today.isoformat()}
            )
        ],
    )
    Delivery.objects.filter(batch=batch.format("notice", today)).update(
        status="unconfirmed", reason=outbox.INTERRUPTED
    )
    late = Delivery.objects.get(batch=batch.format("notice", today))
    old = migrate(BEFORE)
    try:
        Reminder = old.get_model("families", "ParentReminder")
        assert _old_rows(Reminder) == sorted(
            [
                *before,
                (
                    organisation.pk, refused.pk, "notice", today, late.created_at, "failed",
                    f"отправка не подтверждена: письмо могло уйти ({outbox.INTERRUPTED})",
                ),
            ]
        )  # fmt: skip
        assert not Delivery.objects.filter(kind="parent_reminder").exists()
    finally:
        migrate()
    assert Delivery.objects.filter(kind="parent_reminder").count() == 5
