"""Every writing service of the top layer (portal/services.py: the weekly digest) leaves its
audit entries, one a letter. The module's calls are watched (`tests/audit_observer.py`): its
last test checks that each service wrote the action declared for it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from portal import services
from tests import audit_observer
from tests.audit_observer import Audit

# Each public function of portal's services that writes, and the audit action it writes.
AUDITED_SERVICES = {
    "weekly_digest_send": "digest.sent",  # "digest.failed" if the server refused a letter
}
# Public functions that write no audit entry of their own, and why.
NOT_AUDITED = {
    "weekly_digest_start": "queues the week's job; its letters are recorded as they go",
    "week_of": "a date, nothing written",
    "digest_batch": "a name, nothing written",
}

TODAY = timezone.localdate


observed = audit_observer.observed_fixture("portal")


def test_the_weekly_digest_writes_one_entry_a_letter(director, organisation):
    director.email = "director@example.ru"
    director.save()
    monday = TODAY() + dt.timedelta(days=7 - TODAY().weekday())
    audit = Audit()
    [letter] = services.weekly_digest_send(today=monday, base_url="http://testserver/")
    entry = audit.only()
    assert (entry.action, entry.actor_id, entry.object_id, entry.organisation_id) == (
        "digest.sent", None, str(director.pk), organisation.pk
    )  # fmt: skip
    assert entry.data == {
        "week_start": monday.isoformat(),
        "email": "director@example.ru",
        "reason": "",
    }
    assert (letter.person_id, letter.status) == (director.pk, "sent")


def test_the_weeks_job_writes_only_its_letters_entries(director):
    director.email = "director@example.ru"
    director.save()
    audit = Audit()
    services.weekly_digest_start(today=TODAY())  # run at once in tests
    assert [(entry.action, entry.object_id) for entry in audit.new()] == [
        ("digest.sent", str(director.pk))
    ]


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py). It asks for `db`
    as they do: pytest-django runs the tests without a database after all the others, which
    would be after this module's `observed` has ended."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
