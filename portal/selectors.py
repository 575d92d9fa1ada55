"""What the top layer reads: the weekly digest's readers and what it says of an organisation's
week, across the apps (the rollout's numbers from `onboarding.selectors`, the overdue staff of
every document from `acknowledgements.selectors`, the overdue parents from
`families.selectors`, the week's changes from the audit log). Nothing here writes."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from accounts.models import Organisation, Role, User
from acknowledgements.selectors import overdue_by_document
from cdt_portal.audit import action_label, organisation_entries
from families.models import ParentTask
from families.selectors import notice_counts, overdue_parents
from onboarding.selectors import rollout_summary


def digest_readers(organisation: Organisation) -> list[User]:
    """The director and the administrators who have an e-mail address."""
    return list(
        User.objects.active_in(organisation)
        .with_role(Role.DIRECTOR, Role.ADMIN)
        .exclude(email="")
        .order_by("pk")
    )


def week_changes(organisation: Organisation, *, since: dt.date, until: dt.date) -> list:
    """The audit entries of the days `since`..`until` (both included), counted by action, as
    (label, count), the most frequent first."""
    rows = (
        organisation_entries(organisation.pk, date_from=since, date_to=until)
        .order_by()
        .values("action")
        .annotate(n=Count("pk"))
    )
    counted = [(action_label(row["action"]), row["n"]) for row in rows]
    return sorted(counted, key=lambda item: (-item[1], item[0]))


def weekly_digest_context(organisation: Organisation, *, week_start: dt.date) -> dict:
    """What the weekly digest says: the rollout in numbers, what is overdue, what changed in
    the seven days before `week_start`."""
    summary = rollout_summary(organisation)
    since = week_start - dt.timedelta(days=7)
    return {
        "organisation": organisation,
        "summary": summary,
        "notice_counts": notice_counts(organisation, today=week_start),
        # Every document past its due date, with who has not read it: the director's list of
        # who is overdue on what, after the reminders the schedule sent each of them.
        "overdue_documents": overdue_by_document(organisation),
        "overdue_notice": list(overdue_parents(organisation, ParentTask.NOTICE, today=week_start)),
        "overdue_consent": list(
            overdue_parents(organisation, ParentTask.CONSENT, today=week_start)
        ),
        "since": since,
        "until": week_start - dt.timedelta(days=1),
        "changes": week_changes(organisation, since=since, until=week_start - dt.timedelta(days=1)),
    }
