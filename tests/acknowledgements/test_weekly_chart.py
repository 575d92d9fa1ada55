"""Confirmations per week, as a chart and as a table: the dashboard's and the department's
pages draw each document's bars and read out the same numbers, counted by the week of the
acknowledgement's date (the paper's date for a paper one)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Department, Role
from acknowledgements.services import acknowledgement_confirm, acknowledgement_record_paper
from acknowledgements.weekly import BASELINE, CHART_WIDTH, PLOT_HEIGHT, Week, bar_chart, week_start
from tests.acknowledgements.builders import make_act
from tests.departments.builders import build_institution
from tests.factories import PASSWORD, UserFactory
from tests.helpers import changed_outside_services

DASHBOARD = "/dashboard/"
OVERVIEW = "/department/"
WEEKS = 12


def monday(weeks_ago: int) -> dt.date:
    return week_start(timezone.localdate()) - dt.timedelta(weeks=weeks_ago)


def week_list(**counts: int) -> list[int]:
    """Twelve weekly counts, oldest first, from `ago2=1`-style keywords (`ago0`: this week)."""
    result = [0] * WEEKS
    for key, n in counts.items():
        result[WEEKS - 1 - int(key.removeprefix("ago"))] = n
    return result


def readers(organisation, count: int, prefix: str):
    return [
        UserFactory(organisation=organisation, last_name=f"{prefix}{n}", roles=[Role.TEACHER])
        for n in range(count)
    ]


def on_paper(version, person, day: dt.date, recorder) -> None:
    acknowledgement_record_paper(
        version=version, person=person, paper_date=day, recorded_by=recorder
    )


# The regulation: two paper signatures five weeks ago (a Tuesday and that week's Sunday), one
# on paper two weeks ago (a Monday), one online today, and one on paper before the twelve weeks.
REGULATION_WEEKS = week_list(ago5=2, ago2=1, ago0=1)
# The second act: one on paper two weeks ago (a Wednesday), two this week.
SECOND_WEEKS = week_list(ago2=1, ago0=2)


@pytest.fixture
def acknowledged(organisation, regulation, admin, teacher):
    """Both documents confirmed on known days across three weeks (and one day before them)."""
    people = readers(organisation, 6, "Читающая")
    on_paper(regulation, people[0], monday(5) + dt.timedelta(days=1), admin)
    on_paper(regulation, people[1], monday(5) + dt.timedelta(days=6), admin)
    on_paper(regulation, people[2], monday(2), admin)
    on_paper(regulation, people[3], monday(WEEKS - 1) - dt.timedelta(days=1), admin)
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    second = make_act(organisation, admin, title="Положение о защите персональных данных")
    on_paper(second, people[0], monday(2) + dt.timedelta(days=2), admin)
    on_paper(second, people[4], monday(0), admin)
    on_paper(second, people[5], timezone.localdate(), admin)
    return second


def charts(page: str) -> dict[str, dict]:
    """Each chart on the page by its document's code: its heading, its bars' counts and
    heights, and its table's weeks and counts."""
    found = {}
    for chunk in page.split("data-weekly-chart=")[1:]:
        code = chunk.split('"', 2)[1]
        title = re.search(r'<h3 class="h6">(.*?)</h3>', chunk).group(1)
        empty = re.search(r"<p [^>]*data-weekly-empty>(.*?)</p>", chunk)
        if empty:
            assert "<svg" not in chunk and "<table" not in chunk, chunk
            found[code] = {"title": title, "empty": empty.group(1)}
            continue
        svg = re.search(r"<svg.*?</svg>", chunk, re.S).group(0)
        table = re.search(r"<table.*?</table>", chunk, re.S).group(0)
        rects = re.findall(r"<rect [^>]*>", svg)
        rows = re.findall(r'<th scope="row">с (\d\d\.\d\d\.\d{4})</th><td>(\d+)</td>', table)
        labels = re.findall(
            r'<text class="weekly-chart-label([^"]*)"[^>]*>(\d\d\.\d\d)</text>', svg
        )
        found[code] = {
            "title": title,
            "minor": [label for classes, label in labels if "weekly-chart-label-minor" in classes],
            "labels": [label for _, label in labels],
            "bars": [int(re.search(r'data-count="(\d+)"', rect).group(1)) for rect in rects],
            "heights": [float(re.search(r' height="([\d.]+)"', rect).group(1)) for rect in rects],
            "table": [int(n) for _, n in rows],
            "weeks": [day for day, _ in rows],
        }
    return found


def mondays() -> list[str]:
    return [f"{monday(ago):%d.%m.%Y}" for ago in range(WEEKS - 1, -1, -1)]


def assert_drawn_as_read(chart: dict, expected: list[int]) -> None:
    assert chart["bars"] == expected
    assert chart["table"] == expected
    assert chart["weeks"] == mondays()
    assert [height > 0 for height in chart["heights"]] == [n > 0 for n in expected]


def test_the_dashboard_draws_each_documents_weeks_and_its_table_reads_the_same(
    client, director, acknowledged
):
    client.force_login(director)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    found = charts(response.content.decode())
    second = acknowledged.document.code
    assert set(found) == {"sferum", second}
    assert found["sferum"]["title"] == "Положение об использовании ИКОП «Сферум»"
    assert found[second]["title"] == "Положение о защите персональных данных"
    assert_drawn_as_read(found["sferum"], REGULATION_WEEKS)
    assert_drawn_as_read(found[second], SECOND_WEEKS)


SMALL = dict(verified=0, groups=0, linked=0, families=0, informed=0, consents=0)


@pytest.fixture
def second_institution(department):
    """Another institution of the department, older than the regulation's: two of its staff
    confirmed its regulation (a document without a title) today."""
    return build_institution(department, "second", staff=3, confirmed=2, **SMALL)


def test_the_department_counts_its_institutions_together_and_no_other(
    second_institution, acknowledged, department_officer
):
    """The second institution's two confirmations this week join the regulation's chart; an
    institution of another department, its regulation and an act confirmed this week, is not
    counted."""
    elsewhere = Department.objects.create(
        slug="uo2", full_name="Другое управление", short_name="Другое"
    )
    alien = build_institution(elsewhere, "alien", staff=5, confirmed=4, **SMALL)
    alien_admin, alien_teacher = alien.users.order_by("pk")[:2]
    alien_act = make_act(alien, alien_admin, title="Чужой документ")
    on_paper(alien_act, alien_teacher, timezone.localdate(), alien_admin)
    second = acknowledged.document.code
    assert alien_act.document.code == second  # so it would join that chart if it counted

    officer = Client()
    officer.force_login(department_officer)
    response = officer.get(OVERVIEW)
    assert response.status_code == 200
    found = charts(response.content.decode())
    assert set(found) == {"sferum", second}
    assert_drawn_as_read(found["sferum"], week_list(ago5=2, ago2=1, ago0=1 + 2))
    assert_drawn_as_read(found[second], SECOND_WEEKS)
    # One chart for both regulations, named by the one with a title.
    assert found["sferum"]["title"] == "Положение об использовании ИКОП «Сферум»"


def test_a_document_nobody_confirmed_for_twelve_weeks_says_so_instead_of_an_empty_chart(
    client, director, organisation, regulation, admin
):
    """Nobody confirmed the regulation in the twelve weeks (one paper signature before them);
    a second act, confirmed this week, is drawn. On a phone every other date is hidden, the
    current week's always shown (portal.css)."""
    on_paper(regulation, readers(organisation, 1, "Давняя")[0], monday(WEEKS), admin)
    act = make_act(organisation, admin, title="Положение о защите персональных данных")
    on_paper(act, readers(organisation, 1, "Читающая")[0], timezone.localdate(), admin)
    client.force_login(director)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    found = charts(response.content.decode())
    assert found["sferum"] == {
        "title": "Положение об использовании ИКОП «Сферум»",
        "empty": "За 12 недель ни одного ознакомления.",
    }
    drawn = found[act.document.code]
    assert drawn["bars"] == week_list(ago0=1)
    labels = [f"{monday(ago):%d.%m}" for ago in range(WEEKS - 1, -1, -1)]
    assert drawn["labels"] == labels
    assert drawn["minor"] == labels[0::2]  # the current week is the last, not minor


def test_no_document_no_chart(client, director):
    client.force_login(director)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert "data-weekly-charts" not in response.content.decode()


def test_the_bars_are_as_tall_as_their_counts_the_largest_full_height():
    start = dt.date(2026, 11, 30)
    weeks = [Week(start + dt.timedelta(weeks=n), count) for n, count in enumerate([0, 3, 6, 1])]
    chart = bar_chart(weeks)
    assert chart.max_count == 6
    assert [bar.height for bar in chart.bars] == [0, PLOT_HEIGHT / 2, PLOT_HEIGHT, 9.67]
    assert all(bar.y + bar.height == BASELINE for bar in chart.bars)
    assert [bar.week.label for bar in chart.bars] == ["30.11", "07.12", "14.12", "21.12"]
    assert len({bar.width for bar in chart.bars}) == 1
    assert [bar.x for bar in chart.bars] == sorted(bar.x for bar in chart.bars)
    assert chart.bars[-1].x + chart.bars[-1].width <= CHART_WIDTH
    nothing = bar_chart([Week(start, 0), Week(start + dt.timedelta(weeks=1), 0)])
    assert (nothing.max_count, [bar.height for bar in nothing.bars]) == (0, [0, 0])


def test_the_dashboard_costs_the_same_queries_with_one_document_and_with_three(
    client, organisation, director, admin, regulation, django_assert_num_queries
):
    people = readers(organisation, 3, "Читающая")
    on_paper(regulation, people[0], monday(3), admin)
    client.force_login(director)
    client.get(DASHBOARD)  # the session is loaded alike for both measurements
    changed_outside_services()  # both measurements count the dashboard's numbers afresh
    with CaptureQueriesContext(connection) as one:
        response = client.get(DASHBOARD)
    assert set(charts(response.content.decode())) == {"sferum"}

    codes = []
    for n in range(2):
        version = make_act(organisation, admin, title=f"Инструкция {n + 1}")
        on_paper(version, people[0], monday(4), admin)
        on_paper(version, people[n + 1], monday(n), admin)
        codes.append(version.document.code)
    changed_outside_services()
    with django_assert_num_queries(len(one)):
        response = client.get(DASHBOARD)
    found = charts(response.content.decode())
    assert set(found) == {"sferum", *codes}
    assert found[codes[1]]["table"] == week_list(ago4=1, ago1=1)
