"""Browser journeys: Debian's Chromium driven by Playwright against pytest-django's live server.

One browser per test process while it runs journeys (tests/e2e/shared_browser.py), a fresh
context (cookies, storage) per test. Every page records
console errors, uncaught exceptions and Content-Security-Policy violations; tests call
`tab.assert_clean()` after each page they look at, and the fixture checks once more at the end.

axe-core runs on every page a journey opens: `Tab.goto`, `log_in` and `log_out` check the page
they land on, and `assert_clean()` checks any page loaded since the last check (a click that
submitted a form, a link followed). A page that was left before anything looked at it is
reported as a problem, so no page of a journey goes unchecked. Markup axe has already passed
at the same width in this process is not checked twice (`Tab.assert_accessible`).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.shared_browser import SHARED
from tests.helpers import DEMO_PASSWORD

# Debian's Chromium, two builds of one source package. The full browser has the PDF viewer
# that shows a PDF in the tab; the headless shell (`chromium-headless-shell`, the build
# Playwright itself runs headless by default) has none, and draws the same pages with less CPU:
# the journeys, one process, took Chromium 165 CPU seconds all in the full browser and 101 s
# with only the PDF journeys there. A journey marked `pdf_viewer` follows a click to a PDF
# opening in the tab and runs in the full browser; every other journey runs in the shell.
# There a navigation to a PDF becomes a download
# (tests/e2e/test_shared_browser.py::test_the_shell_cannot_show_a_pdf_so_a_journey_needs_the_mark),
# the tab keeps the page it showed, and `pdf_shown`, which wants the PDF in the tab, fails.
CHROMIUM = Path("/usr/bin/chromium")
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# `make screenshots` runs the journeys with CDT_SCREENSHOTS=1: they save their pictures into
# var/screenshots/ (not committed), and the target copies them to docs/screenshots/, which the
# README shows. Other runs check the same pages at both widths without drawing the pictures
# (a full-page capture and its palette cost `make test` about 0.3 s each).
SCREENSHOTS_WANTED = os.environ.get("CDT_SCREENSHOTS") == "1"
SCREENSHOTS = Path(
    os.environ.get(
        "CDT_SCREENSHOTS_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"
    )
)
# axe-core findings that fail a journey; "moderate" and "minor" ones are only reported.
AXE_FAILING_IMPACTS = ("serious", "critical")

# Chromium reports CSP violations on the console already; this makes them explicit and also
# catches the ones a page might swallow. Scripts injected by Playwright are not subject to CSP.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || ""}:${event.lineNumber || ""}`);
});
"""


def browser_required() -> bool:
    return os.environ.get("CDT_REQUIRE_BROWSER") == "1"


def skip_or_fail(reason: str) -> None:
    """No browser here: skip, unless CI said a browser must be present (CDT_REQUIRE_BROWSER=1)."""
    if browser_required():
        pytest.fail(f"{reason} (CDT_REQUIRE_BROWSER=1 requires the browser journeys to run)")
    pytest.skip(reason, allow_module_level=True)


SCREENSHOT_TIMEOUT_MS = 60_000

# Chromium's console line for a page answered with a client error.
REFUSED_PAGE = re.compile(r"the server responded with a status of 4\d\d")


@dataclass
class Tab:
    """A page plus what went wrong on it."""

    page: object
    base_url: str
    problems: list[str] = field(default_factory=list)
    # The URL of every document the tab loaded, and how many of them axe has seen.
    loads: list[str] = field(default_factory=list)
    checked_loads: int = 0
    # Forms the test sends wrong on purpose: the page comes back with a 400, which Chromium
    # reports as a console error (`expect_refusal`).
    refusals_expected: int = 0

    def expect_refusal(self) -> None:
        """The next page is a form refused with a 4xx, as bad input is: not a problem."""
        self.refusals_expected += 1

    def goto(self, path: str):
        response = self.page.goto(self.base_url + path)
        self.check_new_page()
        return response

    def url_path(self) -> str:
        url = self.page.url
        assert url.startswith(self.base_url), url
        return url[len(self.base_url) :]

    def check_new_page(self) -> None:
        """axe on the page now shown, if it was loaded since the last check (once per page:
        a page that a journey looks at twice is not checked twice)."""
        self.page.wait_for_load_state("load")
        new = self.loads[self.checked_loads :]
        if not new:
            return
        if len(new) > 1:
            self.problems.append(f"pages opened but never checked by axe: {new[:-1]}")
        self.assert_accessible()

    def assert_clean(self) -> None:
        """No console error, uncaught exception or CSP violation since the last check, and
        axe has seen the page now shown."""
        self.check_new_page()
        problems, self.problems = self.problems, []
        assert not problems, "Browser reported problems:\n" + "\n".join(problems)

    def no_horizontal_overflow(self) -> None:
        widths = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], (
            f"{self.page.url}: page is {widths[0]} px wide in a {widths[1]} px window"
        )

    def scroll_hints_match(self) -> None:
        """Every table wider than its region, and no other, has the line above it that says it
        scrolls sideways (static/js/tables.js)."""
        wrong = self.page.evaluate(
            """() => [...document.querySelectorAll('.table-responsive')]
                .map((region) => ({
                    wide: region.scrollWidth > region.clientWidth + 1,
                    hinted: !!region.previousElementSibling
                        && region.previousElementSibling.hasAttribute('data-scroll-hint'),
                    label: region.getAttribute('aria-label')
                        || region.querySelector('table').className,
                }))
                .filter((region) => region.wide !== region.hinted)"""
        )
        assert wrong == [], f"{self.page.url}: {wrong}"

    def log_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.goto("/accounts/login/")
        self.assert_clean()
        self.page.get_by_label("Имя пользователя или e-mail").fill(username)
        self.page.get_by_label("Пароль").fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Войти", exact=True).click()
        self.check_new_page()

    def log_out(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Выйти", exact=True).click()
        self.check_new_page()

    def assert_accessible(self, what: str = "") -> None:
        """axe-core on the page as it is now; fails on any serious or critical violation.
        A page whose markup, at this width, axe has already passed in this process is not
        checked again: axe's answer depends on the markup, the stylesheets and the window,
        and a third of the pages the journeys open are one they opened before (a sign-in
        form, a home page), which axe took about a quarter of a second each to say again."""
        self.checked_loads = len(self.loads)
        seen = page_fingerprint(self.page)
        if seen in PASSED_BY_AXE:
            self.assert_clean()
            return
        violations = axe_violations(self.page)
        failing = [v for v in violations if v["impact"] in AXE_FAILING_IMPACTS]
        assert not failing, (
            f"axe found accessibility problems on {what or self.page.url} "
            f"({self.page.viewport_size['width']} px wide):\n" + axe_report(failing)
        )
        PASSED_BY_AXE.add(seen)
        lesser = [v for v in violations if v["impact"] not in AXE_FAILING_IMPACTS]
        if lesser:
            warnings.warn(
                f"axe, {what or self.page.url} ({self.page.viewport_size['width']} px):\n"
                + axe_report(lesser),
                stacklevel=2,
            )
        self.assert_clean()

    def tab_to(self, locator, max_presses: int = 80) -> None:
        """Press Tab, as a keyboard user does, until `locator` has the focus."""
        handle = locator.element_handle()
        for _ in range(max_presses):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("(el) => document.activeElement === el", handle):
                return
        raise AssertionError(f"{locator} not reached with {max_presses} presses of Tab")

    def capture(self, name: str, *, full_page: bool = True, until=None) -> None:
        """The page at desktop and at phone width: axe at each, no sideways scrolling at either,
        and, when pictures are wanted (SCREENSHOTS_WANTED), a screenshot into var/screenshots/
        as `<width>-<name>.png`: the whole page, only the window (`full_page=False`), or the
        page from its top down to the end of the `until` locator."""
        original = self.page.viewport_size
        try:
            for size in (DESKTOP, PHONE):
                self.page.set_viewport_size(size)
                self.page.wait_for_timeout(100)  # let the layout settle after the resize
                self.assert_accessible(name)
                # A navbar with one item too many overflows at desktop width too.
                self.no_horizontal_overflow()
                self.scroll_hints_match()
                if not SCREENSHOTS_WANTED:
                    continue
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                clip = None
                if until is not None:
                    box = until.bounding_box()
                    scrolled = self.page.evaluate("() => window.scrollY")
                    clip = {
                        "x": 0,
                        "y": 0,
                        "width": size["width"],
                        "height": scrolled + box["y"] + box["height"] + 16,
                    }
                path = SCREENSHOTS / f"{size['width']}-{name}.png"
                # The picture for the README, not a check: on a loaded CI machine (two test
                # workers, PostgreSQL, the browser on two cores) a full-page capture has taken
                # over the default 10 s; give it time rather than fail the journey.
                self.page.screenshot(
                    path=path,
                    full_page=full_page or clip is not None,
                    clip=clip,
                    animations="disabled",
                    caret="hide",
                    timeout=SCREENSHOT_TIMEOUT_MS,
                )
                shrink_png(path)
        finally:
            self.page.set_viewport_size(original)


def pdf_shown(tab: Tab, response) -> bytes:
    """The PDF the tab navigated to. Chromium's full browser shows a PDF in its own viewer
    rather than downloading it (a journey that comes here is marked `pdf_viewer`); the
    viewer's page is the browser's, not the portal's, so axe is not asked about it, and the
    PDF's bytes are fetched again with the tab's session (the navigation's own body is the
    viewer's). The tab must show the PDF itself: the page that said «готовится» had the
    same address, so the address alone would not tell that the PDF replaced it."""
    assert response.ok, response.status
    assert response.headers["content-type"] == "application/pdf", response.headers
    fetched = tab.page.request.get(response.url)
    assert fetched.ok, fetched.status
    data = fetched.body()
    assert data.startswith(b"%PDF"), data[:20]
    from playwright.sync_api import Error as PlaywrightError

    shown = None
    for _ in range(100):  # the viewer's document comes a moment after the response
        tab.page.wait_for_load_state("load")
        try:
            shown = (tab.page.url, tab.page.evaluate("() => document.contentType"))
        except PlaywrightError:  # a navigation replaced the document meanwhile
            shown = None
        if shown == (response.url, "application/pdf"):
            break
        tab.page.wait_for_timeout(50)
    assert shown == (response.url, "application/pdf"), f"the tab shows {shown}"
    tab.checked_loads = len(tab.loads)
    tab.assert_clean()
    return data


def shrink_png(path: Path) -> None:
    """A page of text and flat colours loses nothing visible in a 256-colour palette, and the
    file shrinks to about a third (Pillow comes with WeasyPrint)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)


# Pages axe found no serious or critical problem on, by `page_fingerprint`.
PASSED_BY_AXE: set[tuple[str, int]] = set()
# The value of the CSRF token's field: new with every page, and nothing axe looks at.
CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


def page_fingerprint(page) -> tuple[str, int]:
    """The page's markup as it is now (but the CSRF tokens' values) and the window's width."""
    markup = page.evaluate("() => document.documentElement.outerHTML")
    markup = CSRF_VALUE.sub(r'\1"', markup)
    return hashlib.sha256(markup.encode()).hexdigest(), page.viewport_size["width"]


def axe_violations(page) -> list[dict]:
    """Every axe-core violation on the page. axe-core (bundled by axe-playwright-python) is
    injected once per document and reused for every later check of the same page (a resize,
    an opened menu)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe.axe_script)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return results["violations"]


def axe_report(violations: list[dict]) -> str:
    """One readable paragraph per rule: impact, rule, what is wrong, and where."""
    lines = []
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}")
            lines.append(f"       {node['html'][:200]}")
            summary = node.get("failureSummary", "").replace("\n", " ")
            if summary:
                lines.append(f"       {summary[:400]}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def shared_browser():
    """The process's one browser (tests/e2e/shared_browser.py), closed when the run ends if
    a test that is not a journey has not closed it before."""
    yield SHARED
    SHARED.close()


def build_for(node) -> Path:
    """The Chromium a journey runs in: the full browser for one marked `pdf_viewer`."""
    return CHROMIUM if node.get_closest_marker("pdf_viewer") else HEADLESS_SHELL


def launch_chromium(playwright, executable: Path):
    return playwright.chromium.launch(
        executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
    )


@pytest.fixture
def browser(request, shared_browser):
    """The process's browser of the build the journey needs (`build_for`);
    DJANGO_ALLOW_ASYNC_UNSAFE is set while one is open."""
    executable = build_for(request.node)
    if not executable.exists():
        skip_or_fail(f"{executable} not found (apt-get install chromium chromium-headless-shell)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    return shared_browser.open(
        lambda playwright: launch_chromium(playwright, executable), build=executable.name
    )


@pytest.fixture(scope="module")
def demo_copy(django_db_blocker):
    """The module's copy of the demo (tests/e2e/demo_copy.py), taken by its first journey."""
    kept: dict = {}
    yield kept
    if "copy" in kept:
        from django.db import connection

        with django_db_blocker.unblock():
            kept["copy"].drop()
            # Closed here: the connection this teardown opened is not the one the tests' own
            # `close()` reaches (Django keeps a connection per context, and the teardown runs
            # in another). Left open, a real-worker test ended it along with every other
            # session on the test database (tests/jobs/killed_worker.py), and the next
            # module's first journey was handed it, dead, on PostgreSQL.
            connection.close()


@pytest.fixture
def demo(browser, transactional_db, live_server, demo_copy, tmp_path_factory):
    """The real demo data (`manage.py loaddemo`): organisation, 14 staff, five sign-ins.
    Loaded by the module's first journey, put back from its copy for the others."""
    from accounts.models import Organisation
    from portal.demo import load_demo
    from tests.e2e.demo_copy import DemoCopy

    kept = demo_copy.get("copy")
    if kept is None:
        organisation = load_demo()
        demo_copy["copy"] = DemoCopy.take(organisation.pk, tmp_path_factory.mktemp("demo-files"))
        return organisation
    kept.restore()
    return Organisation.objects.get(pk=kept.organisation_pk)


def _open_tab(browser, live_server, viewport) -> tuple[object, Tab]:
    context = browser.new_context(viewport=viewport, locale="ru-RU")
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    tab = Tab(page=page, base_url=live_server.url)

    def on_console(message) -> None:
        if message.type != "error":
            return
        if tab.refusals_expected and REFUSED_PAGE.search(message.text):
            tab.refusals_expected -= 1  # a form sent back with its errors, as the test expects
            return
        tab.problems.append(f"console error on {page.url}: {message.text}")

    def on_page_error(error) -> None:
        tab.problems.append(f"uncaught exception on {page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("load", lambda loaded: tab.loads.append(loaded.url))
    return context, tab


@pytest.fixture
def tab(browser, live_server, demo):
    """A desktop-sized page in a fresh browser context."""
    context, tab = _open_tab(browser, live_server, DESKTOP)
    yield tab
    try:
        tab.assert_clean()
    finally:
        context.close()


@pytest.fixture
def phone_tab(browser, live_server, demo):
    """A phone-sized (390×844) page in a fresh browser context."""
    context, tab = _open_tab(browser, live_server, PHONE)
    yield tab
    try:
        tab.assert_clean()
    finally:
        context.close()
