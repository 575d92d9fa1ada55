"""The top layer's writes: the weekly digest to the director and the administrators of every
organisation (what it says spans the apps: `selectors.weekly_digest_context`). A job every
Monday, one letter a person through the outbox (`cdt_portal.outbox`), so a second run the same
week — started again, or a worker that stopped — sends nobody a second digest."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from accounts.models import Organisation
from cdt_portal import outbox
from cdt_portal.audit import log_action
from cdt_portal.emails import build_templated
from cdt_portal.jobs import job_task, start_job
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient

from .actions import DIGEST_ACTIONS
from .selectors import digest_readers, weekly_digest_context


def week_of(day: dt.date) -> dt.date:
    """The Monday the week of `day` starts on: the digest's week."""
    return day - dt.timedelta(days=day.weekday())


def digest_batch(organisation: Organisation, week_start: dt.date) -> str:
    return f"digest:{organisation.pk}:{week_start:%Y-%m-%d}"


def weekly_digest_start(*, today: dt.date | None = None) -> Job:
    """The week's digest job (Mondays at 08:00, `portal.tasks.weekly_digest`): one job a
    week, so the task firing twice finds the first one."""
    week_start = week_of(today or timezone.localdate())
    return start_job(
        task=send_weekly_digest,
        key=f"weekly-digest:{week_start:%Y-%m-%d}",
        kind="weekly_digest",
        title=f"Еженедельная сводка, неделя с {week_start:%d.%m.%Y}",
        organisation_id=None,
        actor=None,
        args=(week_start.isoformat(),),
    )


def weekly_digest_send(
    *, today: dt.date | None = None, base_url: str | None = None
) -> list[Delivery]:
    """The week's digest to the director and the administrators with an e-mail of every
    organisation: each recorded in the organisation's batch of the week (a person once), then
    sent; the letters that went or were tried in this call are returned. A letter the server
    did not take is `failed` with its reason, and is not sent again by itself."""
    week_start = week_of(today or timezone.localdate())
    base_url = settings.PORTAL_URL if base_url is None else base_url
    tried: list[int] = []
    for organisation in Organisation.objects.order_by("pk"):
        readers = digest_readers(organisation)
        if not readers:
            continue
        batch = digest_batch(organisation, week_start)
        outbox.record(
            batch=batch,
            kind=Delivery.Kind.DIGEST,
            organisation_id=organisation.pk,
            recipients=[Recipient(person, person.email) for person in readers],
        )
        context: dict = {}

        def build(letter: Delivery, organisation=organisation, context=context):
            if not context:  # the week in numbers, read once for all its readers
                context.update(weekly_digest_context(organisation, week_start=week_start))
                context["base_url"] = base_url
            return build_templated("weekly_digest", to=[letter.email], context=context)

        def settled(letter: Delivery, organisation=organisation) -> None:
            tried.append(letter.pk)
            log_action(
                None,
                letter.person,
                DIGEST_ACTIONS[letter.status],
                {
                    "week_start": week_start.isoformat(),
                    "email": letter.email,
                    "reason": letter.reason,
                },
                organisation_id=organisation.pk,
            )

        outbox.send(batch=batch, build=build, on_settled=settled)
    return list(Delivery.objects.filter(pk__in=tried).order_by("pk"))


# Not retried by huey: a run again (the jobs page, a worker that stopped) sends only the
# letters of the week not yet tried.
@job_task()
def send_weekly_digest(job_id: int, week_start: str) -> str:
    weekly_digest_send(today=dt.date.fromisoformat(week_start))
    return ""
