"""Confirmations per week for each document, and the bars that draw them.

The dashboard and the department's overview show them as an inline SVG drawn on the server
(the Content Security Policy allows no script and the portal runs on closed networks, so no
chart library), with the same numbers in a table for screen readers
(`templates/acknowledgements/_weekly_chart.html`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.db.models import Count, FilteredRelation, Min, Q, QuerySet
from django.utils import timezone

from .models import Document

WEEK = dt.timedelta(days=7)

# The SVG's viewBox: small, and scaled to the width of its column by the stylesheet. Dates are
# written under the bars and the largest count above them, each in a band of its own.
CHART_WIDTH = 320
CHART_HEIGHT = 80
LABEL_BAND = 12
TOP_BAND = 10
PLOT_HEIGHT = CHART_HEIGHT - LABEL_BAND - TOP_BAND
BASELINE = TOP_BAND + PLOT_HEIGHT
# A bar's share of its week's slot: the gaps keep neighbouring weeks apart.
BAR_SHARE = 0.7


@dataclass(frozen=True)
class Week:
    start: dt.date  # its Monday
    count: int

    @property
    def label(self) -> str:
        """«30.11»: short enough to stand under a bar."""
        return f"{self.start:%d.%m}"


@dataclass(frozen=True)
class Bar:
    week: Week
    x: float
    y: float
    width: float
    height: float
    # The middle of the week's slot, where its date is written.
    centre: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    max_count: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    top: int = TOP_BAND  # the line the largest bar reaches, its count written above it
    count_y: int = TOP_BAND - 2
    baseline: int = BASELINE
    label_y: int = CHART_HEIGHT - 2  # the dates' baseline


@dataclass(frozen=True)
class DocumentWeeks:
    """One document's confirmations per week (for a department: every institution's document
    of that code together), oldest week first, the current week last."""

    code: str
    title: str
    weeks: list[Week]
    chart: Chart


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def bar_chart(weeks: Sequence[Week]) -> Chart:
    """The bars of `weeks`, left to right in the viewBox: the largest count fills the plot's
    height and the others are in proportion (all empty when nobody confirmed anything)."""
    top = max((week.count for week in weeks), default=0)
    slot = CHART_WIDTH / len(weeks) if weeks else 0
    width = slot * BAR_SHARE
    bars = []
    for n, week in enumerate(weeks):
        height = PLOT_HEIGHT * week.count / top if top else 0
        bars.append(
            Bar(
                week=week,
                x=round(n * slot + (slot - width) / 2, 2),
                y=round(BASELINE - height, 2),
                width=round(width, 2),
                height=round(height, 2),
                centre=round(n * slot + slot / 2, 2),
            )
        )
    return Chart(bars=bars, max_count=top)


def weekly_confirmations(
    organisation_ids: Collection[int] | QuerySet,
    *,
    weeks: int = 12,
    today: dt.date | None = None,
) -> list[DocumentWeeks]:
    """For each document of the organisations `organisation_ids` (ids, or a queryset of their
    `pk` to run as a subquery), by its code and in the order of the titles: how many
    acknowledgements, of any of its versions, online or on paper, fall in each of the last
    `weeks` calendar weeks (Monday to Sunday, by `acknowledged_on`: the paper's date for a
    paper one), ending with the week of `today`. One query, however many documents and
    organisations: the pages that show it pin their query counts."""
    first = week_start(today or timezone.localdate()) - (weeks - 1) * WEEK
    starts = [first + n * WEEK for n in range(weeks)]
    # The documents' acknowledgements of those weeks counted by code, title and day (at most
    # seven rows a week for a title however many institutions share it), folded into weeks
    # here: the same on SQLite and PostgreSQL, whose week functions differ. The outer join
    # keeps a document nobody has confirmed lately, as a row without a day.
    rows = (
        Document.objects.filter(organisation_id__in=organisation_ids)
        .annotate(
            recent=FilteredRelation(
                "versions__acknowledgements",
                condition=Q(
                    versions__acknowledgements__acknowledged_on__range=(
                        first,
                        starts[-1] + WEEK - dt.timedelta(days=1),
                    )
                ),
            )
        )
        .values_list("code", "title", "recent__acknowledged_on")
        .annotate(n=Count("recent"), first_pk=Min("pk"))
        .order_by()
    )
    # The same code in several institutions is one chart, named by its oldest document with
    # a title (by the code when none has one).
    names: dict[str, tuple[bool, int, str]] = {}
    counts: dict[str, Counter] = defaultdict(Counter)
    for code, title, day, n, first_pk in rows:
        rank = (not title, first_pk, title)
        names[code] = min(names.get(code, rank), rank)
        if day is not None:
            counts[code][week_start(day)] += n
    titles = {code: title or code for code, (_, _, title) in names.items()}
    result = []
    for code in sorted(titles, key=lambda code: titles[code].casefold()):
        document_weeks = [Week(start, counts[code][start]) for start in starts]
        result.append(
            DocumentWeeks(
                code=code,
                title=titles[code],
                weeks=document_weeks,
                chart=bar_chart(document_weeks),
            )
        )
    return result
