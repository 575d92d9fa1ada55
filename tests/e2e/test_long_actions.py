"""Every long action reaches its result from one click, in a real browser, with a real huey
consumer (two worker threads) doing the work.

Each journey holds the job on the queue (`queued_jobs`) until the page has been seen waiting,
then starts the consumer; static/js/progress.js follows the job and, when it ends, opens its
result (the PDF opens, the import's preview or result appears, the letters' results show)
without another click. Without JavaScript the page says to reload, and a reload serves it.

1. The approval of a version: tests/e2e/test_approval_job.py. Here: 2. the acknowledgement
sheet and its blank, 3. a staff import (checked, then added), 4. invitations by e-mail (one
person's, pressed twice; the ticked people's; a manager's code on her invitation's page),
5. reminders (and a run the queue refused, gone on with one more press), 6. the sheet without
JavaScript."""

from __future__ import annotations

import re

import pytest

from tests.acknowledgements.test_jobs_consumer import consumer, queued_jobs
from tests.helpers import pdf_text

from .conftest import CSP_WATCH, DESKTOP, Tab, pdf_shown, skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e

# How long a job may take once the consumer runs (rendering a PDF in a cold process is slow).
JOB_SECONDS = 60
# A reader of the demo, named on both the sheet and its blank.
TEACHER_NAME = "Иванова Софья Николаевна"


def expect_message(page, text: str) -> None:
    """The flash message the last action left (Bootstrap alert, role="alert")."""
    expect(page.locator(".messages").get_by_role("alert")).to_contain_text(text)


# 2. The acknowledgement sheet ------------------------------------------------------------------


@pytest.mark.pdf_viewer
@pytest.mark.parametrize("blank", [False, True], ids=["sheet", "blank"])
def test_the_sheet_opens_by_itself_when_it_is_ready(tab, demo, blank):
    """The director asks for the sheet (or its blank); when the job has stored it, progress.js
    opens the version's sheet address. Chromium, headless too, shows the PDF in its viewer
    (it does not download it): the tab ends on the PDF."""
    query = "?blank=1" if blank else ""
    address = "/regulation/sheet.pdf" + query
    page = tab.page
    tab.log_in("director")
    with queued_jobs():
        tab.goto(address)
        tab.assert_clean()
        expect(page.get_by_role("progressbar")).to_have_count(0)
        button = "Сформировать бланк" if blank else "Сформировать лист ознакомления"
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()
        tab.assert_clean()
        assert tab.url_path() == address  # the POST came back to the sheet's address
        expect(page.get_by_text("Лист ознакомления готовится…")).to_be_visible()
        expect(page.get_by_role("progressbar")).to_be_visible()
        tab.capture("blank-sheet-preparing" if blank else "sheet-preparing")

        with (
            consumer(),
            page.expect_response(
                lambda r: r.request.is_navigation_request() and "/sheet.pdf" in r.url,
                timeout=JOB_SECONDS * 1000,
            ) as opened,
        ):
            pass  # progress.js polls the job and opens the sheet when the job is done
    data = pdf_shown(tab, opened.value)
    expect(page).to_have_url(
        re.compile(r"/regulation/versions/\d+/sheet\.pdf" + re.escape(query) + "$")
    )
    assert TEACHER_NAME in pdf_text(data)


# 3. The staff import ---------------------------------------------------------------------------

NEW_STAFF = [
    ("Лебедева Анна Сергеевна", "педагог дополнительного образования", "lebedeva@example.ru"),
    ("Орлов Илья Петрович", "педагог-организатор", "orlov@example.ru"),
    ("Ёлкина Мария Андреевна", "методист", ""),
]


def test_an_import_is_checked_then_added_without_another_click(tab, demo, tmp_path):
    from accounts.models import User

    listing = tmp_path / "педагоги.csv"
    listing.write_text(
        "Ф.И.О.;Должность;E-mail\n" + "".join(f"{n};{p};{e}\n" for n, p, e in NEW_STAFF),
        encoding="utf-8",
    )
    before = User.objects.count()
    page = tab.page
    tab.log_in("admin")
    tab.goto("/people/import/")
    tab.assert_clean()
    page.get_by_label("Файл (CSV или XLSX, до 5 МБ)").set_input_files(listing)
    page.get_by_label("Кто в списке").select_option(label="Педагоги")
    with queued_jobs():
        with page.expect_navigation():
            page.get_by_role("button", name="Показать, что будет загружено").click()
        tab.assert_clean()
        expect(page).to_have_url(re.compile(r"/people/import/\d+/$"))
        preview_address = tab.url_path()
        expect(page.get_by_text("Проверяем список…")).to_be_visible()
        expect(page.get_by_role("progressbar")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("^Добавить"))).to_have_count(0)
        tab.capture("import-checking")
        with consumer():
            # The check ends without a result page of its own: progress.js reloads this one.
            add = page.get_by_role("button", name=f"Добавить {len(NEW_STAFF)}", exact=True)
            expect(add).to_be_visible(timeout=JOB_SECONDS * 1000)
        tab.assert_clean()
        assert tab.url_path() == preview_address
        expect(page.get_by_text("Проверяем список…")).to_have_count(0)
        for name, _, _ in NEW_STAFF:
            expect(page.get_by_role("cell", name=" / ".join(name.split()))).to_be_visible()
        assert User.objects.count() == before

        with page.expect_navigation():
            add.click()
        tab.assert_clean()
        assert tab.url_path() == preview_address
        expect(page.get_by_text("Добавляем людей из списка…")).to_be_visible()
        expect(page.get_by_role("progressbar")).to_be_visible()
        tab.capture("import-adding")
        assert User.objects.count() == before
        with consumer():
            # The job's result is this same page: progress.js reloads it.
            done = page.locator("[data-import-applied]")
            expect(done).to_be_visible(timeout=JOB_SECONDS * 1000)
    tab.assert_clean()
    assert tab.url_path() == preview_address
    expect(done).to_contain_text(f"Добавлено: {len(NEW_STAFF)}.")
    expect(page.get_by_role("progressbar")).to_have_count(0)
    assert User.objects.count() == before + len(NEW_STAFF)


# 4. Invitations by e-mail ------------------------------------------------------------------------


def staff_with_email(demo, count: int) -> list:
    """`count` of the demo's teachers who have not chosen a password yet (the administrator
    may invite them), each given an e-mail."""
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

    from accounts.models import Role, User

    people = list(
        User.objects.filter(
            organisation=demo,
            is_active=True,
            password__startswith=UNUSABLE_PASSWORD_PREFIX,
            user_roles__role=Role.TEACHER,
        ).order_by("last_name", "pk")[:count]
    )
    assert len(people) == count
    for n, person in enumerate(people):
        person.email = f"staff{n}@example.ru"
        person.save(update_fields=["email"])
    return people


def letter_job_shows(tab: Tab, progressbar: str, result: str, capture: str = ""):
    """A letter's job seen waiting on the queue (its bar; `capture` names its pictures), then
    run by the consumer: the job has no result page, so progress.js reloads the page, which
    shows `result` and no bar. Returns the result's locator."""
    from django.core import mail

    page = tab.page
    expect(page.get_by_role("progressbar", name=progressbar)).to_be_visible()
    if capture:
        tab.capture(capture)
    assert mail.outbox == []
    with consumer():
        shown = page.locator(result)
        expect(shown).to_be_visible(timeout=JOB_SECONDS * 1000)
    tab.assert_clean()
    expect(page.get_by_role("progressbar")).to_have_count(0)
    return shown


def test_an_invitation_shows_its_letter_sent_and_a_second_press_sends_none(tab, demo):
    from django.core import mail
    from django.utils import timezone

    from accounts.models import InvitationMailing
    from accounts.selectors import latest_person_delivery

    [person] = staff_with_email(demo, 1)
    page = tab.page
    tab.log_in("admin")
    tab.goto(f"/people/{person.pk}/")
    tab.assert_clean()
    with queued_jobs():
        with page.expect_navigation():
            page.get_by_role("button", name="Пригласить в портал", exact=True).click()
        tab.assert_clean()
        assert tab.url_path() == f"/people/{person.pk}/"
        expect_message(page, f"Приглашение отправляется на {person.email}.")
        letter = letter_job_shows(tab, f"Приглашение на {person.email}", "[data-invitation-letter]")
        expect(letter).to_contain_text(f"Письмо-приглашение на {person.email}: отправлено")
        assert [m.to for m in mail.outbox] == [[person.email]]

        # Pressed again at once (within 30 s): the answer names the letter already sent, and
        # no second letter goes (nothing is queued: the queue still holds whatever would be).
        with page.expect_navigation():
            page.get_by_role("button", name="Пригласить заново", exact=True).click()
        tab.assert_clean()
        sent_at = timezone.localtime(latest_person_delivery(person).delivery.updated_at)
        expect_message(page, f"Приглашение на {person.email} уже отправлено в {sent_at:%H:%M}.")
        expect(letter).to_contain_text("отправлено")
    assert len(mail.outbox) == 1
    assert InvitationMailing.objects.count() == 1


def test_a_managers_code_shows_its_progress_then_when_it_went_and_opens_the_account(tab, demo):
    """A new administrator, invited by the director, opens her link: «Отправить код на e-mail»
    shows the letter's job going, then, without another click, when the code went and until
    when it works; the code from that letter and a new password open the account."""
    from django.core import mail

    from accounts.models import Role, User
    from accounts.services import invitation_issue

    [person] = staff_with_email(demo, 1)  # no password yet
    person.user_roles.create(role=Role.ADMIN)
    director = User.objects.get(username="director")
    issued = invitation_issue(user=person, actor=director, base_url=tab.base_url + "/")
    mail.outbox.clear()
    page = tab.page
    tab.goto(issued.url[len(tab.base_url) :])
    tab.assert_clean()
    masked = person.email[:2] + "***@example.ru"
    with queued_jobs():
        with page.expect_navigation():
            page.get_by_role("button", name="Отправить код на e-mail").click()
        tab.assert_clean()
        sent = letter_job_shows(
            tab, f"Код подтверждения на {masked}", "[data-code-sent]", "invitation-code-sending"
        )
    expect(sent).to_contain_text(f"Код отправлен на {masked} в ")
    tab.capture("invitation-code-sent")
    [letter] = mail.outbox
    code = re.search(r": (\d{6})\n", letter.body).group(1)
    page.get_by_label("Новый пароль").fill("Ёлка-2026-зима")
    page.get_by_label("Подтверждение нового пароля").fill("Ёлка-2026-зима")
    page.get_by_label("Код из письма").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Сохранить пароль и войти").click()
    tab.assert_clean()
    assert tab.url_path() == "/dashboard/"
    assert User.objects.get(pk=person.pk).check_password("Ёлка-2026-зима")


def test_invitations_to_the_ticked_people_reach_the_mailing_results(tab, demo):
    from django.core import mail

    people = staff_with_email(demo, 2)
    page = tab.page
    tab.log_in("admin")
    tab.goto("/people/invitations/")
    tab.assert_clean()
    for person in people:
        page.get_by_label(person.full_name, exact=True).check()
    expect(page.locator("[data-selected-email]")).to_have_text("2")
    with queued_jobs():
        with page.expect_navigation():
            page.get_by_role(
                "button", name="Отправить по e-mail отмеченным, у кого он есть"
            ).click()
        tab.assert_clean()
        expect(page).to_have_url(re.compile(r"/people/invitations/mailings/\d+/$"))
        mailing_address = tab.url_path()
        expect(page.get_by_role("progressbar", name="Приглашения по e-mail: 2")).to_be_visible()
        expect(page.locator("tr[data-delivery=pending]")).to_have_count(2)
        with consumer():
            # No result page of its own: progress.js reloads the mailing's page.
            sent = page.locator("tr[data-delivery=sent]")
            expect(sent).to_have_count(2, timeout=JOB_SECONDS * 1000)
    tab.assert_clean()
    assert tab.url_path() == mailing_address
    expect(page.get_by_role("progressbar")).to_have_count(0)
    expect(page.get_by_text("Отправлено: 2")).to_be_visible()
    for person in people:
        expect(sent.filter(has_text=person.full_name)).to_contain_text("отправлено")
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)


# 5. Reminders ------------------------------------------------------------------------------------


def test_reminders_show_their_progress_then_the_results(tab, demo):
    from django.core import mail

    from acknowledgements.models import REGULATION_CODE
    from acknowledgements.selectors import current_version, pending_email_counts, pending_readers

    version = current_version(demo, REGULATION_CODE)
    pending = list(pending_readers(version).order_by("last_name", "pk"))
    for n, person in enumerate(pending[:3]):
        person.email = f"reader{n}@example.ru"
        person.save(update_fields=["email"])
    with_email, without_email = pending_email_counts(version)
    assert (with_email, without_email) == (3, len(pending) - 3)

    page = tab.page
    tab.log_in("admin")
    tab.goto("/regulation/remind/")
    tab.assert_clean()
    with queued_jobs():
        with page.expect_navigation():
            page.get_by_role("button", name="Отправить напоминания", exact=True).click()
        tab.assert_clean()
        assert tab.url_path() == "/regulation/remind/"
        expect(page.get_by_role("heading", name=re.compile("^Рассылка № 1"))).to_be_visible()
        expect(page.get_by_role("progressbar")).to_be_visible()
        expect(page.get_by_role("button", name="Отправить напоминания")).to_have_count(0)
        assert mail.outbox == []
        with consumer():
            # The run's results are this same page: progress.js reloads it.
            results = page.get_by_text(f"Напоминания отправлены: {with_email}.")
            expect(results).to_be_visible(timeout=JOB_SECONDS * 1000)
    tab.assert_clean()
    expect(results).to_contain_text(f"Без e-mail: {without_email}.")
    expect(page.get_by_role("progressbar")).to_have_count(0)
    expect(page.get_by_role("cell", name="отправлено", exact=True)).to_have_count(3)
    assert len(mail.outbox) == 3


def test_reminders_stopped_by_a_queue_that_is_down_go_on_from_one_more_press(
    tab, demo, monkeypatch
):
    """The queue refused the run's job: the page says why and offers to go on; once the
    queue is back, one press queues the same run again and the page reaches its results."""
    from django.core import mail
    from huey.contrib.djhuey import HUEY

    from acknowledgements.models import REGULATION_CODE, ReminderRun
    from acknowledgements.selectors import current_version, pending_readers
    from cdt_portal.jobs import QUEUE_DOWN

    version = current_version(demo, REGULATION_CODE)
    for n, person in enumerate(pending_readers(version).order_by("last_name", "pk")[:2]):
        person.email = f"reader{n}@example.ru"
        person.save(update_fields=["email"])

    def refuse(task):
        raise OSError("unable to open database file")

    page = tab.page
    tab.log_in("admin")
    tab.goto("/regulation/remind/")
    tab.assert_clean()
    with queued_jobs():
        with monkeypatch.context() as queue_down:
            queue_down.setattr(HUEY, "enqueue", refuse)
            with page.expect_navigation():
                page.get_by_role("button", name="Отправить напоминания", exact=True).click()
        tab.assert_clean()
        # The queue is back. The job ended failed: progress.js leaves its box alone.
        expect(page.locator("[data-job-url][data-job-finished]")).to_contain_text(QUEUE_DOWN)
        go_on = page.get_by_role("button", name="Продолжить рассылку", exact=True)
        expect(go_on).to_be_visible()
        expect(page.get_by_role("button", name="Отправить напоминания")).to_have_count(0)
        with page.expect_navigation():
            go_on.click()
        tab.assert_clean()
        expect(page.get_by_role("progressbar")).to_be_visible()
        with consumer():
            results = page.get_by_text("Напоминания отправлены: 2.")
            expect(results).to_be_visible(timeout=JOB_SECONDS * 1000)
    tab.assert_clean()
    assert ReminderRun.objects.count() == 1  # the same run went on
    assert len(mail.outbox) == 2


# 6. Without JavaScript ---------------------------------------------------------------------------


class TabWithoutJavaScript(Tab):
    """A tab whose pages run no script. axe cannot look at them: its checks wait on timers,
    which never fire while scripts are off (the evaluation would hang). The same pages with
    JavaScript are checked by the journeys above; here only the console, exceptions and CSP
    violations are watched."""

    def assert_accessible(self, what: str = "") -> None:
        self.checked_loads = len(self.loads)
        self.assert_clean()


@pytest.fixture
def tab_without_javascript(browser, live_server, demo):
    """A desktop-sized page in a fresh browser context with JavaScript off."""
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU", java_script_enabled=False)
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    tab = TabWithoutJavaScript(page=page, base_url=live_server.url)

    def on_console(message) -> None:
        if message.type == "error":
            tab.problems.append(f"console error on {page.url}: {message.text}")

    page.on("console", on_console)
    page.on(
        "pageerror", lambda error: tab.problems.append(f"uncaught exception on {page.url}: {error}")
    )
    page.on("load", lambda loaded: tab.loads.append(loaded.url))
    yield tab
    try:
        tab.assert_clean()
    finally:
        context.close()


@pytest.mark.pdf_viewer
def test_without_javascript_the_sheet_page_says_to_reload_and_a_reload_serves_it(
    tab_without_javascript, demo
):
    from acknowledgements.models import REGULATION_CODE
    from acknowledgements.selectors import current_version
    from cdt_portal.models import Job
    from tests.acknowledgements.test_jobs_consumer import wait_for

    tab = tab_without_javascript
    page = tab.page
    tab.log_in("director")
    with queued_jobs():
        tab.goto("/regulation/sheet.pdf")
        tab.assert_clean()
        with page.expect_navigation():
            page.get_by_role("button", name="Сформировать лист ознакомления").click()
        tab.assert_clean()
        expect(page.get_by_text("Лист ознакомления готовится…")).to_be_visible()
        # Playwright's text locators skip <noscript>; its paragraph is an element (and shown)
        # only while scripts are off.
        hint = page.locator("[data-job-url] noscript p")
        expect(hint).to_be_visible()
        expect(hint).to_have_text("Обновите страницу, чтобы увидеть, как идёт работа.")
        expect(page.get_by_text("без JavaScript обновите страницу")).to_be_visible()
        # A reload while the job waits shows it waiting still.
        page.reload()
        tab.assert_clean()
        expect(page.get_by_role("progressbar")).to_be_visible()

        version = current_version(demo, REGULATION_CODE)
        job = Job.objects.get(kind="sheet")
        with consumer():
            wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.DONE, JOB_SECONDS)
        # Nothing follows the job on this page: it stays as it was until it is reloaded.
        page.wait_for_timeout(1500)
        assert tab.url_path() == "/regulation/sheet.pdf"
        expect(page.get_by_text("Лист ознакомления готовится…")).to_be_visible()
        with page.expect_response(
            lambda r: r.request.is_navigation_request() and "/sheet.pdf" in r.url
        ) as opened:
            page.reload()
    data = pdf_shown(tab, opened.value)
    assert tab.url_path() == "/regulation/sheet.pdf"
    assert version.order_number in pdf_text(data)
    assert TEACHER_NAME in pdf_text(data)
