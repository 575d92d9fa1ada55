"""The director approves a new version in a real browser; a real huey consumer (two worker
threads) renders the order while the page shows the job's progress, then the page reloads by
itself (static/js/progress.js) and shows the approved version with its order.

Everywhere else tests run jobs at once inside the request. Here the queue holds the job until
the test starts the consumer, so the page is seen in its «утверждается…» state for certain."""

import datetime as dt
import re

import pytest

from tests.acknowledgements.test_jobs_consumer import consumer, queued_jobs

from .conftest import skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e


def test_the_director_approves_and_waits_for_the_order(tab, demo):
    from accounts.models import User
    from acknowledgements.services import version_create

    director = User.objects.get(username="director")
    draft = version_create(
        organisation=demo,
        actor=director,
        title="Положение по использованию ИКОП «Сферум»",
        text="## 1. Общие положения\n\nНовая редакция.",
        order_number="15-О",
        order_date=dt.date(2025, 9, 1),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    page = tab.page
    tab.log_in("director")
    with queued_jobs():
        tab.goto(f"/regulation/versions/{draft.pk}/approve/")
        tab.assert_clean()
        with page.expect_navigation():
            page.get_by_role("button", name="Утвердить", exact=True).click()
        tab.assert_clean()
        expect(page).to_have_url(re.compile(rf"/regulation/versions/{draft.pk}/$"))
        expect(page.locator("h1 .badge")).to_have_text("утверждается…")
        expect(page.get_by_role("progressbar")).to_be_visible()
        expect(
            page.get_by_role("link", name="Положение с отметкой об утверждении (PDF)")
        ).to_have_count(0)

        with consumer():
            # progress.js polls /jobs/<pk>/ and reloads the page when the job is done.
            expect(page.locator("h1 .badge")).to_have_text("утверждена", timeout=60_000)
    tab.assert_clean()
    order = page.get_by_role("link", name="Положение с отметкой об утверждении (PDF)")
    expect(order).to_be_visible()
    response = page.request.get(tab.base_url + order.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
