"""The journeys' browsers, one of each build per process (tests/e2e/shared_browser.py): launched
once, kept for the journeys, closed before any other test, and Django's permission to run the
ORM beside Playwright's loop ends with them. And why a journey that opens a PDF in the tab is
marked `pdf_viewer` (tests/e2e/conftest.py's `build_for`)."""

import asyncio
import os
import sys
import types

import pytest

from tests.e2e.conftest import CHROMIUM, HEADLESS_SHELL, launch_chromium, skip_or_fail
from tests.e2e.shared_browser import ASYNC_UNSAFE, SHARED, SharedBrowser

pytestmark = pytest.mark.e2e


def both_builds():
    for executable in (CHROMIUM, HEADLESS_SHELL):
        if not executable.exists():
            skip_or_fail(f"{executable} not found")


def test_the_browsers_and_the_orms_permission_end_together(monkeypatch):
    both_builds()
    # One Playwright loop per thread: the process's own browsers are closed first (the next
    # journey opens them again).
    SHARED.close()
    monkeypatch.delenv(ASYNC_UNSAFE, raising=False)
    own = SharedBrowser()

    full = own.open(lambda playwright: launch_chromium(playwright, CHROMIUM), build="chromium")
    assert full.is_connected()
    assert os.environ[ASYNC_UNSAFE] == "true"
    assert asyncio.get_event_loop().is_running()
    shell = own.open(lambda playwright: launch_chromium(playwright, HEADLESS_SHELL), build="shell")
    assert shell is not full and shell.is_connected()
    assert own.open(lambda playwright: pytest.fail("launched twice"), build="chromium") is full
    assert own.open(lambda playwright: pytest.fail("launched twice"), build="shell") is shell

    own.close_before("tests/e2e/test_journeys.py::test_sign_in_by_email")
    assert own.browsers == {"chromium": full, "shell": shell}
    assert full.is_connected() and shell.is_connected()

    own.close_before("tests/test_search.py::test_search_finds_a_teacher")
    assert (own.opened, own.browsers, own.playwright) == (False, {}, None)
    assert not full.is_connected() and not shell.is_connected()
    assert ASYNC_UNSAFE not in os.environ


def test_closing_a_browser_that_is_not_open_leaves_the_environment_alone(monkeypatch):
    """The session's end closes the browsers again after a test that is not a journey closed
    them: a permission set before the run (a developer's own) stays."""
    monkeypatch.setenv(ASYNC_UNSAFE, "true")
    SharedBrowser().close()
    assert os.environ[ASYNC_UNSAFE] == "true"


def test_the_shell_cannot_show_a_pdf_so_a_journey_needs_the_mark(shared_browser):
    """The same PDF, answered inline as the portal answers its documents: the full browser
    shows it in the tab, the headless shell has no viewer and turns the navigation into a
    download, which Playwright reports as an error. A journey that opens a PDF in the tab
    fails in the shell, so it cannot pass there without its `pdf_viewer` mark."""
    both_builds()
    from weasyprint import HTML

    pdf = HTML(string="<p>Лист ознакомления</p>").write_pdf()
    address = "http://127.0.0.1:9/sheet.pdf"  # answered by the route below, never the network

    def serve(route):
        route.fulfill(
            status=200,
            body=pdf,
            headers={
                "Content-Type": "application/pdf",
                "Content-Disposition": 'inline; filename="sheet.pdf"',
            },
        )

    shown = {}
    for build, executable in (("chromium", CHROMIUM), ("shell", HEADLESS_SHELL)):
        browser = shared_browser.open(
            lambda playwright, executable=executable: launch_chromium(playwright, executable),
            build=executable.name,
        )
        context = browser.new_context()
        try:
            page = context.new_page()
            page.route(address, serve)
            try:
                response = page.goto(address)
                shown[build] = (response.status, response.headers["content-type"], page.url)
            except Exception as error:  # Playwright's Error: the navigation did not end
                shown[build] = str(error).splitlines()[0]
        finally:
            context.close()
    assert shown["chromium"] == (200, "application/pdf", address)
    assert "Download is starting" in shown["shell"], shown["shell"]


def fake_driver(monkeypatch, start):
    """Playwright's sync API replaced by one whose driver `start()` gives."""
    fake = types.ModuleType("playwright.sync_api")
    fake.sync_playwright = lambda: types.SimpleNamespace(start=start)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", fake)


def test_a_driver_that_fails_to_start_leaves_the_environment_as_it_was(monkeypatch):
    monkeypatch.delenv(ASYNC_UNSAFE, raising=False)

    def start():
        raise RuntimeError("the driver did not start")

    fake_driver(monkeypatch, start)
    own = SharedBrowser()
    with pytest.raises(RuntimeError, match="the driver did not start"):
        own.open(lambda playwright: pytest.fail("no driver, no browser"))
    assert ASYNC_UNSAFE not in os.environ
    assert (own.opened, own.playwright, own.browsers) == (False, None, {})


def test_a_browser_that_fails_to_close_does_not_keep_the_others_open(monkeypatch):
    monkeypatch.delenv(ASYNC_UNSAFE, raising=False)
    closed = []

    def browser(name: str, fails: bool):
        def close():
            if fails:
                raise RuntimeError("Target closed")
            closed.append(name)

        return types.SimpleNamespace(close=close)

    fake_driver(monkeypatch, lambda: types.SimpleNamespace(stop=lambda: closed.append("driver")))
    own = SharedBrowser()
    own.open(lambda playwright: browser("chromium", fails=True), build="chromium")
    own.open(lambda playwright: browser("shell", fails=False), build="shell")
    with pytest.raises(RuntimeError, match="Target closed"):
        own.close()
    assert closed == ["shell", "driver"]
    assert (own.opened, own.playwright, own.browsers) == (False, None, {})
    assert ASYNC_UNSAFE not in os.environ
