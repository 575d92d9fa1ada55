"""Browser journeys: Debian's Chromium driven by Playwright against pytest-django's live server.

One browser per test session, a fresh context (cookies, storage) per test. Every page records
console errors, uncaught exceptions and Content-Security-Policy violations; tests call
`tab.assert_clean()` after each page they look at, and the fixture checks once more at the end.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Playwright's sync API keeps an asyncio loop in the test thread; Django's ORM would otherwise
# refuse to run there (SynchronousOnlyOperation). Set when this conftest loads, before any test.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "cdt-demo"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Screenshots the README shows; journeys overwrite them on every run.
# Every run keeps its screenshots in var/screenshots/ (not committed); `make screenshots`
# copies them to docs/screenshots/, which the README shows, when pages have changed.
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


@dataclass
class Tab:
    """A page plus what went wrong on it."""

    page: object
    base_url: str
    problems: list[str] = field(default_factory=list)

    def goto(self, path: str):
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        return response

    def url_path(self) -> str:
        url = self.page.url
        assert url.startswith(self.base_url), url
        return url[len(self.base_url) :]

    def assert_clean(self) -> None:
        """No console error, uncaught exception or CSP violation since the last check."""
        problems, self.problems = self.problems, []
        assert not problems, "Browser reported problems:\n" + "\n".join(problems)

    def no_horizontal_overflow(self) -> None:
        widths = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], (
            f"{self.page.url}: page is {widths[0]} px wide in a {widths[1]} px window"
        )

    def log_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.goto("/accounts/login/")
        self.assert_clean()
        self.page.get_by_label("Имя пользователя или e-mail").fill(username)
        self.page.get_by_label("Пароль").fill(password)
        self.page.get_by_role("button", name="Войти", exact=True).click()
        self.page.wait_for_load_state("load")

    def log_out(self) -> None:
        self.page.get_by_role("button", name="Выйти", exact=True).click()
        self.page.wait_for_load_state("load")

    def assert_accessible(self, what: str = "") -> None:
        """axe-core on the page as it is now; fails on any serious or critical violation."""
        violations = axe_violations(self.page)
        failing = [v for v in violations if v["impact"] in AXE_FAILING_IMPACTS]
        assert not failing, (
            f"axe found accessibility problems on {what or self.page.url} "
            f"({self.page.viewport_size['width']} px wide):\n" + axe_report(failing)
        )
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
        """The page at desktop and at phone width: axe at each, no sideways scrolling on the
        phone, and a screenshot into var/screenshots/ as `<width>-<name>.png`: the whole page,
        only the window (`full_page=False`), or the page from its top down to the end of the
        `until` locator."""
        original = self.page.viewport_size
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        try:
            for size in (DESKTOP, PHONE):
                self.page.set_viewport_size(size)
                self.page.wait_for_timeout(100)  # let the layout settle after the resize
                self.assert_accessible(name)
                if size is PHONE:
                    self.no_horizontal_overflow()
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
                self.page.screenshot(
                    path=path,
                    full_page=full_page or clip is not None,
                    clip=clip,
                    animations="disabled",
                    caret="hide",
                )
                shrink_png(path)
        finally:
            self.page.set_viewport_size(original)


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


def axe_violations(page) -> list[dict]:
    """Every axe-core violation on the page (axe-core is bundled by axe-playwright-python)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


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
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} not found")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def demo(transactional_db, live_server):
    """The real demo data (`manage.py loaddemo`): organisation, 14 staff, five sign-ins."""
    from portal.demo import load_demo

    return load_demo()


def _is_favicon(message) -> bool:
    """Chromium asks for /favicon.ico on its own and logs the 404; the site declares no icon.

    Not the page's fault as such, and reported separately; everything else counts.
    """
    return (message.location or {}).get("url", "").endswith("/favicon.ico")


def _open_tab(browser, live_server, viewport) -> tuple[object, Tab]:
    context = browser.new_context(viewport=viewport, locale="ru-RU")
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    tab = Tab(page=page, base_url=live_server.url)

    def on_console(message) -> None:
        if message.type == "error" and not _is_favicon(message):
            tab.problems.append(f"console error on {page.url}: {message.text}")

    def on_page_error(error) -> None:
        tab.problems.append(f"uncaught exception on {page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return context, tab


@pytest.fixture
def tab(browser, live_server, demo):
    """A desktop-sized page in a fresh browser context."""
    context, tab = _open_tab(browser, live_server, DESKTOP)
    yield tab
    context.close()
    tab.assert_clean()


@pytest.fixture
def phone_tab(browser, live_server, demo):
    """A phone-sized (390×844) page in a fresh browser context."""
    context, tab = _open_tab(browser, live_server, PHONE)
    yield tab
    context.close()
    tab.assert_clean()
