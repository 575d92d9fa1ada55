"""The director's second factor in a real browser: enrolment with the QR code and the secret,
the recovery codes shown once, signing in with the app's code, and a recovery code that works
once (see conftest.py for the fixtures)."""

import re
from base64 import b32decode

import pytest

from .conftest import skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e


def app_code(secret: str, ahead: int = 0) -> str:
    """What the authenticator app shows for `secret` now (`ahead` steps later: a code the
    portal has not accepted yet, since each code is taken once)."""
    from django_otp.oath import TOTP

    return f"{TOTP(b32decode(secret), drift=ahead).token():06d}"


def type_code(tab, code: str) -> None:
    tab.page.locator("#id_code").fill(code)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Подтвердить").click()


def test_the_director_enrols_then_signs_in_with_a_code_and_a_recovery_code(tab, settings):
    settings.REQUIRE_2FA_FOR_MANAGERS = True
    page = tab.page

    # The password alone leads to the enrolment page.
    tab.log_in("director")
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/setup/\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Вход с кодом из приложения")
    expect(page.get_by_alt_text("QR-код для приложения-аутентификатора")).to_be_visible()
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    # The secret shown for typing by hand is the same, in groups of four.
    expect(page.locator("#totp-secret")).to_have_text(
        " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    )
    tab.capture("two-factor-enrol")

    page.locator("#id_code").fill(app_code(secret))
    with page.expect_navigation():
        page.get_by_role("button", name="Подключить").click()
    tab.assert_clean()
    expect(page.get_by_role("heading", level=1)).to_have_text("Коды восстановления")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    tab.capture("two-factor-recovery-codes")
    with page.expect_navigation():
        page.get_by_role("link", name="Я сохранил коды, продолжить").click()
    tab.assert_clean()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    tab.log_out()

    # Signing in again: the password, then a fresh code from the app.
    tab.log_in("director")
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Код для входа")
    tab.capture("two-factor-verify")
    type_code(tab, app_code(secret, ahead=1))
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    tab.assert_clean()
    tab.log_out()

    # Once with a recovery code...
    tab.log_in("director")
    type_code(tab, codes[0])
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    tab.assert_clean()
    tab.log_out()

    # ...and the same recovery code a second time is refused.
    tab.log_in("director")
    type_code(tab, codes[0])
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/"))
    expect(page.locator("#content")).to_contain_text("Код не подошёл")
    tab.assert_clean()
    tab.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/\?next="))
    tab.assert_clean()
