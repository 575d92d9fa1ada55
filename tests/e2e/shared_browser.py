"""One Chromium of each build per test process, open only while that process runs browser
journeys (the builds: tests/e2e/conftest.py's `CHROMIUM` and `HEADLESS_SHELL`).

Starting Playwright's driver and Chromium, and closing them, took a second of wall time and
of CPU; a browser per module paid it for every journey file. A process opens a browser for a
journey and keeps it for the journey files that follow; it closes them before the next test
that is not a journey (`close_before` in tests/conftest.py's `pytest_runtest_setup`), or when
the run ends. Each test still gets a fresh browser context (cookies, storage).

While the browser is open, Playwright's sync API keeps an asyncio loop running in the test
thread, and Django's ORM refuses to run there (SynchronousOnlyOperation) unless told otherwise
(DJANGO_ALLOW_ASYNC_UNSAFE). It is allowed exactly while the browser is open, never for the
tests that follow in the same process.
"""

from __future__ import annotations

import os

JOURNEYS = "tests/e2e/"
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


class SharedBrowser:
    def __init__(self) -> None:
        self.playwright = None
        self.browsers: dict[str, object] = {}
        # Set while DJANGO_ALLOW_ASYNC_UNSAFE is ours to put back (from the first `open`).
        self.opened = False
        self.previous_async_unsafe: str | None = None

    def open(self, launch, build: str = "chromium"):
        """The process's browser of `build`, launched by `launch(playwright)` the first time."""
        if not self.opened:
            self.previous_async_unsafe = os.environ.get(ASYNC_UNSAFE)
            os.environ[ASYNC_UNSAFE] = "true"
            self.opened = True
        try:
            if self.playwright is None:
                from playwright.sync_api import sync_playwright

                self.playwright = sync_playwright().start()
            if build not in self.browsers:
                self.browsers[build] = launch(self.playwright)
        except BaseException:
            self.close()
            raise
        return self.browsers[build]

    def close(self) -> None:
        """Closes the browsers and the driver, each even if another failed to close, and puts
        DJANGO_ALLOW_ASYNC_UNSAFE back as it was; nothing when none is open (the session's end
        after a test that closed them)."""
        if not self.opened:
            return
        failed: BaseException | None = None
        closers = [browser.close for browser in self.browsers.values()]
        if self.playwright is not None:
            closers.append(self.playwright.stop)
        for close in closers:
            try:
                close()
            except BaseException as error:  # the rest are closed all the same
                failed = failed or error
        self.browsers = {}
        self.playwright = None
        self.opened = False
        if self.previous_async_unsafe is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = self.previous_async_unsafe
        if failed is not None:
            raise failed

    def close_before(self, nodeid: str) -> None:
        """Closes the browsers before a test that is not a journey."""
        if self.opened and not nodeid.startswith(JOURNEYS):
            self.close()


SHARED = SharedBrowser()
