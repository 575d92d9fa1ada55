"""The journeys' one browser per process (tests/e2e/shared_browser.py): launched once, kept
for the journeys, closed before any other test, and Django's permission to run the ORM beside
Playwright's loop ends with it."""

import asyncio
import os

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, skip_or_fail
from tests.e2e.shared_browser import ASYNC_UNSAFE, SHARED, SharedBrowser

pytestmark = pytest.mark.e2e


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def test_the_browser_and_the_orms_permission_end_together(monkeypatch):
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} not found")
    # One Playwright loop per thread: the process's own browser is closed first (the next
    # journey opens it again).
    SHARED.close()
    monkeypatch.delenv(ASYNC_UNSAFE, raising=False)
    own = SharedBrowser()

    browser = own.open(launch)
    assert browser.is_connected()
    assert os.environ[ASYNC_UNSAFE] == "true"
    assert asyncio.get_event_loop().is_running()
    assert own.open(launch) is browser

    own.close_before("tests/e2e/test_journeys.py::test_sign_in_by_email")
    assert own.browser is browser and browser.is_connected()

    own.close_before("tests/test_search.py::test_search_finds_a_teacher")
    assert own.browser is None
    assert not browser.is_connected()
    assert ASYNC_UNSAFE not in os.environ


def test_closing_a_browser_that_is_not_open_leaves_the_environment_alone(monkeypatch):
    """The session's end closes the browser again after a test that is not a journey closed
    it: a permission set before the run (a developer's own) stays."""
    monkeypatch.setenv(ASYNC_UNSAFE, "true")
    SharedBrowser().close()
    assert os.environ[ASYNC_UNSAFE] == "true"
