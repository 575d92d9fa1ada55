"""When a scheduled reminder is due: one small pure rule, shared by every reminder with a
deadline (reading a version of the regulation, parents' notices and consents, ...).

The schedule of one person for one thing to do is a list of milestone days:

- ``start`` (the thing was asked for: a version approved, a due date set);
- ``due - REMINDER_DAYS_BEFORE`` (3 days before the due date);
- ``due`` (the due date itself);
- ``due + k * REMINDER_REPEAT_DAYS`` for k = 1, 2, ... (every 7 days after it, until done).

A reminder is due today when a milestone on or before today has passed since the last
reminder (so a day the job did not run is caught up once, the next day, never twice), when
nothing was sent today already, and when fewer than ``REMINDER_MAX`` reminders were sent.
Milestones before ``start`` do not count (a due date set two days ahead gives the start
reminder, then the one on the date). Without a due date only the start reminder is due.

Settings: ``REMINDER_DAYS_BEFORE`` (3), ``REMINDER_REPEAT_DAYS`` (7), ``REMINDER_MAX`` (5);
each may also be passed explicitly. The caller says what "done" means: it simply stops
asking once the person did the thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings

DEFAULT_DAYS_BEFORE = 3
DEFAULT_REPEAT_DAYS = 7
DEFAULT_MAX = 5


def _setting(name: str, default: int, given: int | None) -> int:
    if given is not None:
        return given
    return int(getattr(settings, name, default))


def latest_milestone(
    *,
    today: dt.date,
    start: dt.date,
    due: dt.date | None,
    days_before: int | None = None,
    repeat_days: int | None = None,
) -> dt.date | None:
    """The last milestone of the schedule on or before `today` (None before `start`)."""
    if today < start:
        return None
    days_before = _setting("REMINDER_DAYS_BEFORE", DEFAULT_DAYS_BEFORE, days_before)
    repeat_days = max(1, _setting("REMINDER_REPEAT_DAYS", DEFAULT_REPEAT_DAYS, repeat_days))
    milestones = [start]
    if due is not None:
        milestones.append(due - dt.timedelta(days=days_before))
        milestones.append(due)
        if today > due:
            periods = (today - due).days // repeat_days
            milestones.append(due + dt.timedelta(days=periods * repeat_days))
    return max(m for m in milestones if m <= today)


def reminder_due(
    *,
    today: dt.date,
    start: dt.date,
    due: dt.date | None,
    sent_count: int,
    last_sent: dt.date | None,
    days_before: int | None = None,
    repeat_days: int | None = None,
    max_count: int | None = None,
) -> bool:
    """Whether one more reminder goes to a person today (see the module's docstring).

    `sent_count` and `last_sent` are this person's reminders of this schedule so far (the
    number, and the day of the last one); the caller counts them from its own records."""
    if last_sent is not None and last_sent >= today:
        return False  # never twice a day
    if sent_count >= _setting("REMINDER_MAX", DEFAULT_MAX, max_count):
        return False
    milestone = latest_milestone(
        today=today, start=start, due=due, days_before=days_before, repeat_days=repeat_days
    )
    if milestone is None:
        return False
    return last_sent is None or last_sent < milestone


def people_due(
    people: Iterable[Any],
    history: dict[int, tuple[int, dt.date]],
    *,
    today: dt.date,
    start: dt.date,
    due: dt.date | None,
) -> list[Any]:
    """Of `people` (each with a `pk`), those one more reminder goes to `today`: `history`
    gives, by person pk, how many reminders of this schedule they were sent and the day of
    the last one (none: not yet)."""
    found = []
    for person in people:
        sent_count, last_sent = history.get(person.pk, (0, None))
        if reminder_due(
            today=today, start=start, due=due, sent_count=sent_count, last_sent=last_sent
        ):
            found.append(person)
    return found
