"""Issue 12's family side in a real browser, on the demo data: the students' notice (§5.2 of the
regulation), the organisation's registration link for students (§4.13), and a family that does
not use Sferum and names another channel.

Each journey signs in as the people who do it, one after the other, finds things by what they
see (roles, labels, Russian text), runs axe-core on every page it opens (see conftest.py) and
its key pages again at desktop and phone width (`tab.capture`: no sideways scrolling at 390 px).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from .conftest import skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")
try:
    import axe_playwright_python  # noqa: F401  (bundles axe-core; used by tab.capture)
except ImportError:
    skip_or_fail("the axe-playwright-python package is not installed")

pytestmark = pytest.mark.e2e

MOSCOW = ZoneInfo("Europe/Moscow")  # the demo organisation's time zone
CHILD_NAME = "Кузнецов Максим Андреевич"
PARENT_SHORT_NAME = "Е.В. Кузнецова"
GROUP_NAME = "Демонстрационная группа"
# The demo is in the MAX state (since 2025 Sferum's chats live in MAX): its chat link is MAX's.
INVITE_LINK = "https://max.ru/join/demo-robotics"
REGISTRATION_LINK = "https://sferum.ru/?registration=cdt-demo"
REGISTRATION_LABEL = "Ссылка на страницу регистрации обучающихся в «Сферуме»"
STUDENT_NOTICE_FIRST = "В «Сферуме» пиши педагогу только по учёбе."
STUDENT_NOTICE_SECOND = "Никому не сообщай свой пароль."
FAMILY_PHONE = "+7 912 000-11-22"
NOTICES_CARD = "Информирование семей (п. 5.2 Положения)"


def today() -> str:
    return f"{dt.datetime.now(MOSCOW):%d.%m.%Y}"


def nav_link(page, name: str):
    return page.get_by_role("navigation", name="Основная навигация").get_by_role(
        "link", name=name, exact=True
    )


def expect_message(page, text: str) -> None:
    """The flash message the last action left (Bootstrap alert, role="alert")."""
    expect(page.locator(".messages").get_by_role("alert")).to_contain_text(text)


def notices_line(page, start: str):
    """One line of the dashboard's «Информирование семей» card."""
    card = page.locator(".card").filter(has=page.get_by_role("heading", name=NOTICES_CARD))
    return card.get_by_role("listitem").filter(has_text=start)


def active_students(organisation) -> int:
    from accounts.models import Role, User

    return User.objects.active_in(organisation).with_role(Role.STUDENT).count()


# 1. The students' notice (§5.2) ---------------------------------------------------------------


def test_admin_publishes_the_students_notice_and_the_student_reads_it(tab, demo):
    page = tab.page
    students = active_students(demo)
    assert students >= 1, students

    tab.log_in("admin")
    expect(page).to_have_url(tab.base_url + "/dashboard/")
    expect(notices_line(page, "Обучающиеся ознакомлены")).to_have_text(
        "Обучающиеся ознакомлены: уведомление не опубликовано"
    )
    tab.assert_clean()
    card = page.locator(".card").filter(has=page.get_by_role("heading", name=NOTICES_CARD))
    card.get_by_role("link", name="Уведомления", exact=True).click()
    expect(page).to_have_url(tab.base_url + "/notices/")
    expect(page.get_by_role("heading", name="Памятка для обучающихся")).to_be_visible()
    tab.assert_clean()

    # No students' notice yet: its form is open, with a draft to start from.
    text = page.get_by_label("Текст памятки")
    expect(text).to_be_visible()
    expect(text).not_to_have_value("")
    text.fill(f"{STUDENT_NOTICE_FIRST}\n\n{STUDENT_NOTICE_SECOND}")
    page.get_by_role("button", name="Опубликовать памятку", exact=True).click()
    expect_message(
        page, "Уведомление для обучающихся опубликовано: они увидят его на своей странице."
    )
    expect(page).to_have_url(tab.base_url + "/notices/")
    published = page.locator(".card").filter(has_text=STUDENT_NOTICE_SECOND)
    expect(published).to_contain_text(f"Опубликовано {today()}")
    expect(published).to_contain_text(STUDENT_NOTICE_FIRST)
    # Published: the form now offers a new edition, folded away.
    expect(page.get_by_text("Опубликовать новую редакцию памятки", exact=True)).to_be_visible()
    tab.assert_clean()
    tab.capture("admin-student-notice")
    tab.log_out()

    tab.log_in("student")
    expect(page).to_have_url(tab.base_url + "/my/")
    notice = page.locator(".card").filter(
        has=page.get_by_role("heading", name="Памятка для обучающихся: «Сферум»", exact=True)
    )
    expect(notice).to_contain_text(STUDENT_NOTICE_FIRST)
    expect(notice).to_contain_text(STUDENT_NOTICE_SECOND)
    expect(notice).not_to_contain_text("Прочитано")
    tab.assert_clean()
    tab.capture("student-home-notice", until=notice)

    notice.get_by_role("button", name="Прочитал", exact=True).click()
    expect_message(page, "Спасибо! Отмечено, что ты прочитал памятку.")
    expect(page).to_have_url(tab.base_url + "/my/")
    expect(notice.locator("p.text-success")).to_have_text(f"Прочитано {today()}")
    expect(notice.get_by_role("button", name="Прочитал")).to_have_count(0)
    tab.assert_clean()
    tab.log_out()

    tab.log_in("admin")
    expect(page).to_have_url(tab.base_url + "/dashboard/")
    expect(notices_line(page, "Обучающиеся ознакомлены")).to_have_text(
        f"Обучающиеся ознакомлены: 1 из {students}"
    )
    tab.assert_clean()


# 2. The registration link (§4.13) -------------------------------------------------------------


def test_admin_sets_the_registration_link_and_the_student_sees_it_first(tab, demo):
    from accounts.models import StudyGroup

    StudyGroup.objects.filter(organisation=demo, name=GROUP_NAME).update(
        max_invite_link=INVITE_LINK
    )

    page = tab.page
    tab.log_in("admin")
    nav_link(page, "Организация").click()
    expect(page).to_have_url(tab.base_url + "/organisation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Сведения об организации")
    tab.assert_clean()
    field = page.get_by_label(REGISTRATION_LABEL)
    expect(field).to_have_value("")
    field.fill(REGISTRATION_LINK)
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect_message(page, "Сведения об организации сохранены.")
    expect(page.get_by_label(REGISTRATION_LABEL)).to_have_value(REGISTRATION_LINK)
    tab.assert_clean()
    tab.log_out()

    tab.log_in("student")
    expect(page).to_have_url(tab.base_url + "/my/")
    # The block at the top of the page (the «how to join» section below repeats the link).
    registration = page.locator(".registration-link").filter(
        has=page.get_by_role("heading", name="Регистрация в «Сферуме»", exact=True)
    )
    expect(registration).to_have_count(1)
    link = registration.get_by_role("link", name=REGISTRATION_LINK, exact=True)
    expect(link).to_have_attribute("href", REGISTRATION_LINK)
    group = page.locator(".card").filter(has=page.get_by_role("heading", name=GROUP_NAME))
    chat = group.get_by_role("link", name="Войти в чат объединения")
    expect(chat).to_have_attribute("href", INVITE_LINK)

    # First on the page: the registration link comes before every other link of the content,
    # the group's chat link among them.
    hrefs = page.locator("#content a[href]").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    assert hrefs[0] == REGISTRATION_LINK, hrefs
    assert hrefs.index(REGISTRATION_LINK) < hrefs.index(INVITE_LINK), hrefs
    first_above_chat = page.evaluate(
        "([a, b]) => a.getBoundingClientRect().top < b.getBoundingClientRect().top",
        [link.element_handle(), chat.element_handle()],
    )
    assert first_above_chat, "the registration link is not shown above the chat link"
    tab.assert_clean()
    tab.capture("student-home-registration-link", until=group)


# 3. A family that does not use Sferum ---------------------------------------------------------


def test_parent_chooses_another_channel_and_the_teacher_and_dashboard_see_it(tab, demo):
    from accounts.models import StudyGroup, User

    child = User.objects.get(username="student")
    group = StudyGroup.objects.get(organisation=demo, name=GROUP_NAME)

    page = tab.page
    tab.log_in("parent")
    expect(page).to_have_url(tab.base_url + "/my/")
    child_block = page.get_by_role("heading", name=CHILD_NAME).locator("..")
    choice = child_block.locator(".family-choice")
    expect(choice).not_to_contain_text("не используем «Сферум»: связь")
    tab.assert_clean()
    choice.get_by_role(
        "link", name="Не используем «Сферум» — выбрать другой способ связи", exact=True
    ).click()
    expect(page).to_have_url(tab.base_url + f"/my/children/{child.pk}/channel/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Способ связи: {CHILD_NAME}")
    tab.assert_clean()
    tab.capture("parent-family-choice")

    page.get_by_label("Как с вами связываться").select_option(label="по телефону")
    page.get_by_label("Телефон или e-mail").fill(FAMILY_PHONE)
    page.get_by_role(
        "button", name="Не используем «Сферум» — сохранить способ связи", exact=True
    ).click()
    expect_message(
        page,
        f"{CHILD_NAME}: записано, что вы не используете «Сферум». Педагог будет связываться "
        "выбранным способом.",
    )
    expect(page).to_have_url(tab.base_url + "/my/")
    expect(choice.locator(".badge")).to_have_text("не используем «Сферум»: связь по телефону")
    expect(choice.get_by_role("link", name="Изменить", exact=True)).to_have_attribute(
        "href", f"/my/children/{child.pk}/channel/"
    )
    tab.assert_clean()
    tab.capture("parent-home-family-choice", until=child_block)
    tab.log_out()

    tab.log_in("teacher")
    expect(page).to_have_url(tab.base_url + "/teacher/")
    tab.assert_clean()
    page.get_by_role(
        "link", name=f"{GROUP_NAME}: согласия и способы связи семей", exact=True
    ).click()
    expect(page).to_have_url(tab.base_url + f"/onboarding/groups/{group.pk}/families/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{GROUP_NAME}: согласия и способы связи"
    )
    row = page.get_by_role("row").filter(has_text=CHILD_NAME)
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(2)).to_have_text(
        f"не использует: связь по телефону — {FAMILY_PHONE} ({PARENT_SHORT_NAME})"
    )
    tab.assert_clean()
    tab.capture("teacher-group-families")
    tab.log_out()

    tab.log_in("admin")
    expect(page).to_have_url(tab.base_url + "/dashboard/")
    expect(notices_line(page, "Семьи без «Сферума»")).to_have_text(
        "Семьи без «Сферума» (другой способ связи): 1"
    )
    tab.assert_clean()
