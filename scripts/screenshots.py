"""Full-page screenshots of the portal's pages at desktop and phone width, for a visual review.

Needs a running server with the demo loaded, e.g.:

    .venv/bin/python manage.py migrate && .venv/bin/python manage.py loaddemo
    .venv/bin/python manage.py runserver 127.0.0.1:8000

then:

    .venv/bin/python scripts/screenshots.py OUTDIR [--base-url http://127.0.0.1:8000]

Files are named WIDTH-WHO-PAGE.png (e.g. 390-admin-dashboard.png). Under `runserver` with
DEBUG on (the local settings' default) the 404 shots show Django's technical 404 page, not
templates/404.html. Uses Debian's Chromium
through Playwright; never downloads a browser. Console errors, CSP violations and pages wider
than the window are listed at the end, and make the exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {1280: 800, 390: 844}  # width: window height
SIGN_INS = ["admin", "director", "teacher", "student", "parent"]
HOME_NAMES = {"/dashboard/": "dashboard", "/teacher/": "my-groups", "/my/": "family"}
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  console.error(`CSP violation: ${event.violatedDirective} blocked ${blocked}`);
});
"""


class Shooter:
    def __init__(self, browser, base_url: str, outdir: Path, width: int) -> None:
        self.browser = browser
        self.base_url = base_url.rstrip("/")
        self.outdir = outdir
        self.width = width
        self.saved: list[Path] = []
        self.problems: list[str] = []

    def new_page(self) -> Page:
        context = self.browser.new_context(
            viewport={"width": self.width, "height": WIDTHS[self.width]}, locale="ru-RU"
        )
        context.set_default_timeout(15_000)
        context.add_init_script(CSP_WATCH)
        page = context.new_page()

        def on_console(message) -> None:
            url = (message.location or {}).get("url", "")
            if message.type != "error" or url.endswith("/favicon.ico"):
                return  # the site declares no icon; Chromium asks for one anyway
            if url == page.url and message.text.startswith("Failed to load resource"):
                return  # the page's own status (the 403 and 404 pages are shot on purpose)
            self.problems.append(f"{self.width}px {page.url}: console error: {message.text}")

        page.on("console", on_console)
        page.on(
            "pageerror",
            lambda error: self.problems.append(f"{self.width}px {page.url}: exception: {error}"),
        )
        return page

    def goto(self, page: Page, path: str) -> None:
        page.goto(self.base_url + path)
        page.wait_for_load_state("load")

    def shot(self, page: Page, name: str) -> None:
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)  # let Bootstrap's transitions settle
        scroll_width, inner_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        if scroll_width > inner_width:
            self.problems.append(
                f"{self.width}px {name}: horizontal overflow, {scroll_width} px > {inner_width} px"
            )
        path = self.outdir / f"{self.width}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.saved.append(path)
        print(f"  {path.name}  ({page.url})")

    def open_menu_if_collapsed(self, page: Page) -> None:
        toggler = page.get_by_role("button", name="Открыть меню")
        if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
            toggler.click()
            page.locator("#main-nav.show").wait_for()
            page.wait_for_timeout(400)  # the collapse animation

    def nav(self, page: Page, label: str) -> None:
        self.open_menu_if_collapsed(page)
        page.get_by_role("navigation").get_by_role("link", name=label, exact=True).click()
        page.wait_for_load_state("load")

    def log_in(self, page: Page, username: str, password: str) -> None:
        self.goto(page, "/accounts/login/")
        page.get_by_label("Имя пользователя или e-mail").fill(username)
        page.get_by_label("Пароль").fill(password)
        page.get_by_role("button", name="Войти", exact=True).click()
        page.wait_for_load_state("load")

    def anonymous(self) -> None:
        page = self.new_page()
        self.goto(page, "/")
        self.shot(page, "anon-public")
        if self.width < 992:
            self.open_menu_if_collapsed(page)
            self.shot(page, "anon-public-menu")
        page.get_by_role("link", name="Войти в портал").click()
        self.shot(page, "anon-login")
        self.log_in(page, "admin", "wrong-password")
        self.shot(page, "anon-login-error")
        self.goto(page, "/no-such-page/")
        self.shot(page, "anon-404")
        page.context.close()

    def signed_in(self, username: str, password: str) -> None:
        page = self.new_page()
        self.log_in(page, username, password)
        path = page.url.removeprefix(self.base_url)
        if "/accounts/login/" in path:
            self.problems.append(f"{self.width}px: could not sign in as {username}")
            page.context.close()
            return
        self.shot(page, f"{username}-{HOME_NAMES.get(path, 'home')}")
        if self.width < 992:
            self.open_menu_if_collapsed(page)
            self.shot(page, f"{username}-{HOME_NAMES.get(path, 'home')}-menu")
        self.goto(page, "/accounts/profile/")
        self.shot(page, f"{username}-profile")

        if username == "admin":
            self.goto(page, "/dashboard/")
            self.nav(page, "Люди")
            self.shot(page, "admin-people")
            # The demo student has the most to show: parents and a group.
            page.get_by_role("link", name="Кузнецов Максим Андреевич").click()
            page.wait_for_load_state("load")
            self.shot(page, "admin-person")
            page.get_by_role("link", name="Демонстрационная группа").click()
            page.wait_for_load_state("load")
            self.shot(page, "admin-group")
            self.nav(page, "Организация")
            self.shot(page, "admin-organisation")
            self.goto(page, "/people/999999/")  # nobody: the 404 page, signed in
            self.shot(page, "admin-404")
        elif username == "teacher":
            self.goto(page, "/teacher/")
            page.get_by_role("link", name="Демонстрационная группа").click()
            page.wait_for_load_state("load")
            self.shot(page, "teacher-group")
        elif username == "student":
            self.goto(page, "/people/")  # not for students: the 403 page
            self.shot(page, "student-403")
        page.context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="cdt-demo", help="the demo sign-ins' password")
    args = parser.parse_args()

    try:
        urllib.request.urlopen(args.base_url.rstrip("/") + "/healthz", timeout=5)
    except (urllib.error.URLError, OSError) as exc:
        print(f"No server at {args.base_url}: {exc}", file=sys.stderr)
        return 2
    args.outdir.mkdir(parents=True, exist_ok=True)

    saved: list[Path] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        for width in WIDTHS:
            print(f"{width} px:")
            shooter = Shooter(browser, args.base_url, args.outdir, width)
            shooter.anonymous()
            for username in SIGN_INS:
                shooter.signed_in(username, args.password)
            saved += shooter.saved
            problems += shooter.problems
        browser.close()

    print(f"\n{len(saved)} screenshots in {args.outdir}")
    if problems:
        counts = Counter(problem[:300] for problem in problems)  # the same error, once
        print(f"\n{len(counts)} problem(s):")
        for problem, count in counts.items():
            print(f"  - {problem}" + (f" (×{count})" if count > 1 else ""))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
