"""Issue 21: every default text is true and well-formed in each of the three messenger states.

Each test renders EVERY text the portal writes by default (the e-mails, the parents' and the
students' notices, the consent, the joining page, the family home of a student and of a parent,
the teacher's «Мой «Сферум»», the invitation slips and the appointment letter as printed, and
the automatic MAX draft of the regulation) for one state, set explicitly here (whatever the
default state of a new organisation is), and checks every text against the forbidden patterns
below. Each pattern is a rule that is true of every text in that state; in the transition both
messengers may be named (tests/accounts/test_messenger.py checks that both are, with the date).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.gender import FEMALE, MALE, gender_of, gender_suffix, gendered
from accounts.invitations import invitation_slip, render_invitation_slips
from accounts.models import Messenger
from accounts.services import invitation_issue
from acknowledgements.services import default_agreement_text, messenger_draft_create
from cdt_portal.emails import build_templated
from families.selectors import (
    default_consent_text,
    default_notice_text,
    default_student_consent_text,
    default_student_notice_text,
)
from families.services import notice_publish, student_notice_publish
from onboarding.documents import render_letter
from tests.acknowledgements.builders import approve_seed_regulation
from tests.factories import UserFactory
from tests.helpers import pdf_text
from tests.onboarding.builders import make_ready_request

SWITCH = dt.date(2025, 12, 1)
EMAILS = sorted(
    p.name.removesuffix("_subject.txt")
    for p in (Path(settings.BASE_DIR) / "templates" / "emails").glob("*_subject.txt")
)


# --- The forbidden patterns ------------------------------------------------------------------
# (name, regex, what it guards). A rule holds for every text in the states it is listed for.

# A word written twice in a row: «работает в в MAX», «в в VK Мессенджере» (a template writing
# a preposition before a value that already starts with one).
DOUBLED_WORD = ("a word twice in a row", re.compile(r"\b([а-яё]+)\s+\1\b", re.IGNORECASE))
# «(а)» after a word: every person these texts address or name has a patronymic that tells the
# gender (the fixtures' people), so «назначен(а)», «ознакомлен(а)», «сделал(а)» are forms that
# should have been chosen. (Where the gender is not known, «(а)» is right: see the helper's
# tests below.)
GENDER_UNCHOSEN = ("«(а)» for a person whose gender is known", re.compile(r"\w\((а|ла|на)\)"))
# The false sentence of the first MAX draft: using Sferum does need a MAX account (the
# regulation's §4.19 says so), so no text may say the opposite, in any wording.
NO_MAX_REGISTRATION = (
    "a claim that Sferum needs no MAX registration",
    re.compile(
        r"не\s+(влеч[её]т\s+за\s+собой\s+регистраци\w*|требует\s+регистраци\w*)\s+в\s+"
        r"(мессенджере\s+)?MAX",
        re.IGNORECASE,
    ),
)
# MAX has no pages to visit: «переходить на профили в MAX друг друга» was the social
# network's sentence with the names swapped.
PAGES_IN_MAX = (
    "pages or profiles in MAX to visit",
    re.compile(r"на\s+(страниц\w*|профил\w*)\s+в\s+(мессенджере\s+)?MAX", re.IGNORECASE),
)
# Under MAX nothing sends anyone to VK: neither VK Мессенджер (any case form) nor «ВКонтакте».
# (Case-sensitive: the questionnaire's short link https://vk.cc/… is an address, not a name.)
VK_NAMED = ("VK named under MAX", re.compile(r"\bVK\b|ВКонтакт|\bВК\b"))
# Under VK nothing speaks of MAX.
MAX_NAMED = ("MAX named under VK", re.compile(r"\bMAX\b|\bМАКС\b"))

COMMON = (DOUBLED_WORD, GENDER_UNCHOSEN, NO_MAX_REGISTRATION, PAGES_IN_MAX)
FORBIDDEN = {
    Messenger.VK: (*COMMON, MAX_NAMED),
    Messenger.TRANSITION: COMMON,
    Messenger.MAX: (*COMMON, VK_NAMED),
}

# «аккаунт в соцсети» needs its referent: a paragraph that says «соцсеть» also names the network.
SOCIAL_NETWORK = re.compile(r"соцсет", re.IGNORECASE)
NETWORK_NAMED = re.compile(r"ВКонтакте|социальн\w* сет", re.IGNORECASE)


def dangling_social_network(text: str) -> list[str]:
    return [
        paragraph
        for paragraph in re.split(r"\n\s*\n", text)
        if SOCIAL_NETWORK.search(paragraph) and not NETWORK_NAMED.search(paragraph)
    ]


# --- Rendering every default text ------------------------------------------------------------


def set_state(organisation, state: str) -> None:
    organisation.messenger = state
    organisation.max_only_from = SWITCH if state == Messenger.TRANSITION else None
    organisation.save(update_fields=["messenger", "max_only_from"])


def page_text(response) -> str:
    """A page's text as read: the <main> part without tags, scripts or attributes."""
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    start, end = page.find("<main"), page.rfind("</main>")
    if start != -1 and end != -1:
        page = page[start:end]
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def email_context(organisation, *, person, actor, registration) -> dict:
    now = timezone.now()
    return {
        "person": person,
        "user": person,
        "actor": actor,
        "by_someone_else": True,
        "organisation": organisation,
        "invitation": SimpleNamespace(expires_at=now),
        "url": "https://portal.example.ru/invite/x/",
        "code": "123456",
        "minutes": 15,
        "changed_at": now,
        "email_changed": True,
        "phone_changed": True,
        "old_email": "old@example.ru",
        "new_email": "new@example.ru",
        "base_url": "https://portal.example.ru/",
        "kind": "notice",
        "due_date": dt.date(2026, 12, 15),
        "since": dt.date(2026, 11, 28),
        "until": dt.date(2026, 12, 5),
        "message": SimpleNamespace(
            subject="Сроки",
            text="Просим проверить сроки.",
            department="Управление образования",
            author_name="Петрова А.И.",
        ),
        "version": SimpleNamespace(
            title="Положение по использованию ИКОП «Сферум»",
            order_label="приказом от 30.11.2023 № 201-О",
            document=SimpleNamespace(organisation=organisation, code="sferum"),
        ),
        "request": registration,
    }


def every_default_text(client, organisation, *, state, admin, teacher, student, parent, group):
    """{name: text} of every default text in `state`."""
    set_state(organisation, state)
    registration = make_ready_request(organisation, admin)
    out: dict[str, str] = {}
    context = email_context(organisation, person=student, actor=admin, registration=registration)
    for name in EMAILS:
        message = build_templated(name, to=["x@example.ru"], context=context)
        out[f"e-mail {name}"] = f"{message.subject}\n\n{message.body}"
    out["parents' notice"] = default_notice_text(organisation)
    out["students' notice"] = default_student_notice_text(organisation)
    out["consent"] = default_consent_text(organisation)
    out["student's own consent"] = default_student_consent_text(organisation)
    out["agreement on the простая электронная подпись"] = default_agreement_text(organisation)
    # Both notices published with their default texts, so the family home shows them and the
    # buttons that confirm them.
    notice_publish(organisation=organisation, actor=admin, text=out["parents' notice"])
    student_notice_publish(organisation=organisation, actor=admin, text=out["students' notice"])
    client.logout()
    out["joining page"] = page_text(client.get(reverse("join", args=[organisation.slug])))
    client.force_login(student)
    out["family home (student)"] = page_text(client.get(reverse("family_home")))
    client.force_login(parent)
    out["family home (parent)"] = page_text(client.get(reverse("family_home")))
    client.force_login(teacher)
    out["teacher's «Мой «Сферум»»"] = page_text(client.get(reverse("my_sferum_status")))
    client.logout()
    issued = invitation_issue(user=student, actor=admin, base_url="https://portal.example.ru/")
    out["invitation slips"] = pdf_text(render_invitation_slips([invitation_slip(issued)])[1])
    out["appointment letter"] = pdf_text(render_letter(registration)[1])
    return out


def max_draft_text(organisation, *, state, admin, director) -> str:
    approve_seed_regulation(organisation, director)
    set_state(organisation, state)
    return messenger_draft_create(organisation=organisation, actor=admin).text


def violations(texts: dict[str, str], state: str) -> list[str]:
    found = []
    for name, text in texts.items():
        flat = re.sub(r"\s+", " ", text)
        for rule, pattern in FORBIDDEN[state]:
            for match in pattern.finditer(flat):
                around = flat[max(0, match.start() - 60) : match.end() + 60]
                found.append(f"{name}: {rule}: «…{around}…»")
        for paragraph in dangling_social_network(text):
            found.append(f"{name}: «соцсеть» without its name: «{paragraph[:200]}…»")
    return found


# --- The tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [Messenger.VK, Messenger.TRANSITION, Messenger.MAX])
def test_every_default_text_is_free_of_the_forbidden_patterns(
    client, organisation, admin, teacher, student, parent, group, state
):
    texts = every_default_text(
        client, organisation, state=state, admin=admin, teacher=teacher, student=student,
        parent=parent, group=group,
    )  # fmt: skip
    assert all(text.strip() for text in texts.values()), [k for k, v in texts.items() if not v]
    assert not violations(texts, state), "\n".join(violations(texts, state))


@pytest.mark.parametrize("state", [Messenger.TRANSITION, Messenger.MAX])
def test_the_max_draft_of_the_regulation_is_free_of_the_forbidden_patterns(
    organisation, admin, director, state
):
    text = max_draft_text(organisation, state=state, admin=admin, director=director)
    found = violations({"MAX draft of the regulation": text}, Messenger.MAX)
    assert not found, "\n".join(found)
    # What the draft says of MAX is true: the mobile app needs a MAX account (§4.19), and the
    # paragraph about the social network now says so instead of the opposite.
    flat = re.sub(r"\s+", " ", text)
    assert "регистрацию учебного профиля ИКОП Сферум в мессенджере MAX" in flat
    assert "учебный профиль ИКОП Сферум доступен в мессенджере MAX" in flat
    assert "регистрация в мессенджере MAX по номеру мобильного телефона" in flat


def test_the_seed_regulation_trips_the_rules_under_max(organisation, director):
    """The patterns are not vacuous: the seed, read under MAX, names VK."""
    seed = approve_seed_regulation(organisation, director).text
    assert any("VK named" in v for v in violations({"seed": seed}, Messenger.MAX))


def test_the_forbidden_patterns_catch_the_reported_sentences():
    reported = {
        "students' notice": "Учебный профиль «Сферума» работает в в MAX.",
        "students' notice (VK)": "Учебный профиль «Сферума» работает в в VK Мессенджере.",
        "draft": "Использование ИКОП Сферум не влечет за собой регистрацию в мессенджере MAX.",
        "draft, pages": "пользователи не могут переходить на профили в MAX друг друга",
        "letter": "в организации назначен(а): Захарова Ольга Викторовна",
    }
    found = violations(reported, Messenger.TRANSITION)
    assert len(found) == len(reported), found
    assert dangling_social_network("Если у пользователя уже есть аккаунт в соцсети - он …")
    assert not dangling_social_network("в социальной сети ВКонтакте. Если аккаунт в соцсети …")
    assert violations({"x": "Учебный профиль — в VK Мессенджере."}, Messenger.MAX)
    assert violations({"x": "Учебный профиль — в мессенджере MAX."}, Messenger.VK)
    assert not violations({"x": "анкета: https://vk.cc/cnEOTn"}, Messenger.MAX)


# --- The gender helper -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patronymic", "gender"),
    [
        ("Андреевич", MALE),
        ("Ильич", MALE),
        ("Кузьмич", MALE),
        ("Мамед оглы", MALE),
        ("Мамедоглы", MALE),
        ("Викторовна", FEMALE),
        ("Кузьминична", FEMALE),
        ("Ильинична", FEMALE),
        ("Рашид кызы", FEMALE),
        ("Б.", None),
        ("", None),
        ("Тимурович ", MALE),
    ],
)
def test_the_gender_from_the_patronymic(patronymic, gender):
    assert gender_of(patronymic) == gender


def test_the_forms_for_known_and_unknown_gender(organisation):
    man = UserFactory(organisation=organisation, first_name="Иван", patronymic="Петрович")
    woman = UserFactory(organisation=organisation, first_name="Анна", patronymic="Петровна")
    unknown = UserFactory(organisation=organisation, first_name="Саша", patronymic="")
    assert [gendered("назначен", p) for p in (man, woman, unknown)] == [
        "назначен", "назначена", "назначен(а)",
    ]  # fmt: skip
    assert [p.gender_suffix for p in (man, woman, unknown)] == ["", "а", "(а)"]
    assert gendered("ознакомлен", "Захарова Ольга Викторовна") == "ознакомлена"
    assert gendered("ознакомлен", "Алиев Рашид Мамед оглы") == "ознакомлен"
    assert gendered("ознакомлен", "Захарова О.В.") == "ознакомлен(а)"
    assert gender_suffix(None) == "(а)"
