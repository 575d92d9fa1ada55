"""Issue 12: Sferum moved into MAX. The messenger setting has three states (VK Мессенджер, MAX,
a transition with the date from which MAX is the only one), and every text a person reads is
written per state: under MAX no sentence sends anyone to VK, under the transition both are
named, under VK only VK. Groups carry a MAX chat link too; students see the organisation's
registration link (§4.13) first."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.forms import GroupLinkForm, OrganisationForm
from accounts.invitations import invitation_slip, render_invitation_slips
from accounts.messenger import chat_links, replace_vk_names, texts_for
from accounts.models import Messenger
from accounts.services import invitation_issue, organisation_update
from cdt_portal.errors import PortalError
from families.selectors import default_notice_text
from tests.helpers import pdf_text

EMAILS = Path(settings.BASE_DIR) / "templates" / "emails"
SWITCH = dt.date(2025, 12, 1)
VK_LINK = "https://sferum.ru/?invite=abc"
MAX_LINK = "https://max.ru/join/AbCdEf"
REGISTRATION_LINK = "https://sferum.ru/?p=registration&org=cdt"
# Naming VK as where to go: VK, «ВКонтакте», VK Мессенджер (any case form).
VK_WORDS = re.compile(r"\bVK\b|ВКонтакте", re.IGNORECASE)
# A page's CSRF token is 64 random letters and digits, so about one page in 4,000 carries
# "MAX" in it by chance; the token is not text anyone reads.
CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


def set_state(organisation, state: str) -> None:
    organisation.messenger = state
    organisation.max_only_from = SWITCH if state == Messenger.TRANSITION else None
    organisation.save(update_fields=["messenger", "max_only_from"])


def texts_people_read(client, organisation, *, teacher, student, admin) -> dict[str, str]:
    """Every person-facing text of the portal that speaks of the messenger, as rendered."""
    out = {}
    client.logout()
    out["join page"] = client.get(reverse("join", kwargs={"slug": organisation.slug})).content
    out["how to join"] = render_to_string(
        "accounts/_how_to_join.html", {"organisation": organisation, "administrators": []}
    )
    client.force_login(teacher)
    out["teacher's status page"] = client.get(reverse("my_sferum_status")).content
    client.force_login(student)
    out["family home"] = client.get(reverse("family_home")).content
    client.logout()
    out["notice default"] = default_notice_text(organisation)
    now = timezone.now()
    context = {
        "person": student,
        "user": student,
        "actor": admin,
        "organisation": organisation,
        "invitation": SimpleNamespace(expires_at=now),
        "url": "https://portal.example.ru/invite/x/",
        "protocol": "https",
        "domain": "portal.example.ru",
        "uid": "MQ",
        "token": "abc-123",
        "changed_at": now,
        "email_changed": True,
        "base_url": "https://portal.example.ru/",
        "version": SimpleNamespace(
            title="Положение",
            order_label="Приказ",
            document=SimpleNamespace(organisation=organisation, code="sferum"),
        ),
        "request": SimpleNamespace(
            admin_full_name="Захарова О.В.",
            admin_position="",
            admin_phone=SimpleNamespace(as_international="+7 912 345-67-89"),
            questionnaire_filled_on=now,
        ),
    }
    for template in sorted(EMAILS.glob("*.*")):
        out[f"e-mail {template.name}"] = render_to_string(f"emails/{template.name}", context)
    issued = invitation_issue(user=student, actor=admin, base_url="https://portal.example.ru/")
    out["invitation slips"] = pdf_text(render_invitation_slips([invitation_slip(issued)])[1])
    texts = {k: v.decode() if isinstance(v, bytes) else v for k, v in out.items()}
    return {k: CSRF_VALUE.sub(r'\1"', v) for k, v in texts.items()}


@pytest.fixture
def people(organisation, admin, teacher, student, parent, group):
    return SimpleNamespace(admin=admin, teacher=teacher, student=student)


def test_under_max_no_text_sends_anyone_to_vk(client, organisation, people):
    set_state(organisation, Messenger.MAX)
    texts = texts_people_read(client, organisation, **vars(people))
    for name, text in texts.items():
        assert not VK_WORDS.search(text), f"{name} names VK under MAX: {VK_WORDS.search(text)}"
    for name in ("join page", "how to join", "teacher's status page", "notice default"):
        assert "MAX" in texts[name], name
    assert "Установите MAX." in texts["join page"]
    assert "безопасный режим" in texts["join page"]
    assert "тому же номеру мобильного телефона" in texts["notice default"]
    assert "собственный аккаунт в MAX" in texts["notice default"]
    assert "добровольное" in texts["notice default"]
    assert "MAX" in texts["e-mail invitation.txt"]
    assert "MAX" in texts["invitation slips"]


def test_during_the_transition_both_are_named_with_the_date(client, organisation, people):
    set_state(organisation, Messenger.TRANSITION)
    texts = texts_people_read(client, organisation, **vars(people))
    for name in (
        "join page",
        "how to join",
        "teacher's status page",
        "notice default",
        "e-mail invitation.txt",
        "invitation slips",
    ):
        text = re.sub(r"\s+", " ", texts[name])
        assert "VK Мессенджер" in text and "MAX" in text, name
        assert "01.12.2025" in text, name


def test_under_vk_only_vk_is_named(client, organisation, people):
    set_state(organisation, Messenger.VK)
    texts = texts_people_read(client, organisation, **vars(people))
    for name in (
        "join page",
        "how to join",
        "teacher's status page",
        "notice default",
        "e-mail invitation.txt",
        "invitation slips",
    ):
        assert "VK Мессенджер" in re.sub(r"\s+", " ", texts[name]), name
    for name, text in texts.items():
        assert "MAX" not in text, name


def test_every_state_has_its_texts_in_one_place():
    for state in Messenger.values:
        texts = texts_for(state, SWITCH)
        assert texts.state == state and texts.name and texts.where and texts.short
    assert not any(VK_WORDS.search(str(value)) for value in vars(texts_for(Messenger.MAX)).values())


# The transition date -----------------------------------------------------------------------


def test_the_transition_needs_its_date(on_vk, organisation, admin):
    with pytest.raises(PortalError) as refused:
        organisation_update(
            organisation=organisation, actor=admin, data={"messenger": Messenger.TRANSITION}
        )
    assert refused.value.field == "max_only_from"
    assert "укажите дату" in refused.value.message
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.VK
    organisation_update(
        organisation=organisation,
        actor=admin,
        data={"messenger": Messenger.TRANSITION, "max_only_from": SWITCH},
    )
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.TRANSITION
    assert organisation.max_only_from == SWITCH
    assert organisation.messenger_changed_at is not None


def settings_data(organisation, **changes) -> dict:
    data = {
        "full_name": organisation.full_name,
        "short_name": organisation.short_name,
        "head_position": "Директор",
        "head_name": "О.Б. Денисенко",
        "time_zone": "Europe/Moscow",
        "messenger": Messenger.VK,
    }
    return {**data, **changes}


def test_the_settings_page_refuses_a_transition_without_a_date(on_vk, client, admin, organisation):
    client.force_login(admin)
    response = client.post(
        reverse("organisation_settings"), settings_data(organisation, messenger="transition")
    )
    assert response.status_code == 400
    assert "Для перехода укажите дату" in response.content.decode()
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.VK


def test_the_settings_page_keeps_the_date_and_the_registration_link(client, admin, organisation):
    client.force_login(admin)
    response = client.post(
        reverse("organisation_settings"),
        settings_data(
            organisation,
            messenger="transition",
            max_only_from="2025-12-01",
            registration_link=REGISTRATION_LINK,
        ),
    )
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.max_only_from == SWITCH
    assert organisation.registration_link == REGISTRATION_LINK


def test_a_registration_link_must_be_https(organisation):
    form = OrganisationForm(
        settings_data(organisation, registration_link="http://sferum.ru/"), instance=organisation
    )
    assert not form.is_valid()
    assert "https://" in str(form.errors["registration_link"])


# Chat links --------------------------------------------------------------------------------


def test_a_max_link_must_lead_to_max(group):
    form = GroupLinkForm({"chat_invite_link": VK_LINK, "max_invite_link": VK_LINK}, instance=group)
    assert not form.is_valid()
    assert "max.ru" in str(form.errors["max_invite_link"])
    form = GroupLinkForm({"chat_invite_link": "", "max_invite_link": MAX_LINK}, instance=group)
    assert form.is_valid(), form.errors


def test_the_teacher_keeps_both_links_during_the_move(client, organisation, teacher, group):
    set_state(organisation, Messenger.TRANSITION)
    client.force_login(teacher)
    response = client.post(
        reverse("group_edit", args=[group.pk]),
        {"chat_invite_link": VK_LINK, "max_invite_link": MAX_LINK},
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.chat_invite_link, group.max_invite_link) == (VK_LINK, MAX_LINK)


def test_both_chat_links_are_shown_per_group_during_the_transition(
    client, organisation, teacher, student, parent, group
):
    group.chat_invite_link, group.max_invite_link = VK_LINK, MAX_LINK
    group.save()
    set_state(organisation, Messenger.TRANSITION)
    for person, url in (
        (student, reverse("family_home")),
        (parent, reverse("family_home")),
        (teacher, reverse("group_detail", args=[group.pk])),
    ):
        client.force_login(person)
        page = re.sub(r"\s+", " ", client.get(url).content.decode())
        assert VK_LINK.replace("?", "") in page.replace("?", ""), person
        assert MAX_LINK in page, person
        assert "VK Мессенджер (до 01.12.2025)" in page, person
        assert "MAX (с 01.12.2025 — только он)" in page, person


def test_under_max_only_the_max_link_is_shown(organisation, group):
    group.chat_invite_link, group.max_invite_link = VK_LINK, MAX_LINK
    links = chat_links(group, texts_for(Messenger.MAX))
    assert [(link.label, link.url) for link in links] == [("MAX", MAX_LINK)]
    # A group whose only link already points to MAX keeps it.
    group.chat_invite_link, group.max_invite_link = MAX_LINK, ""
    assert [link.url for link in chat_links(group, texts_for(Messenger.MAX))] == [MAX_LINK]
    group.chat_invite_link = VK_LINK
    assert chat_links(group, texts_for(Messenger.MAX)) == []


# §4.13: the registration link ----------------------------------------------------------------


def test_students_see_the_registration_link_first(client, organisation, student, group):
    organisation.registration_link = REGISTRATION_LINK
    organisation.save(update_fields=["registration_link"])
    shown = REGISTRATION_LINK.replace("&", "&amp;")
    client.force_login(student)
    page = client.get(reverse("family_home")).content.decode()
    main = page[page.index("<main") :] if "<main" in page else page
    assert shown in main
    assert main.index(shown) < main.index("Мои объединения")
    client.logout()
    join = client.get(reverse("join", kwargs={"slug": organisation.slug})).content.decode()
    students = join[join.index("Обучающимся") :]
    assert shown in students
    assert students.index(shown) < students.index("Зарегистрируйте учебный профиль")


def test_the_regulation_wording_table():
    text = (
        "Учебный профиль доступен в VK Мессенджере. Информация о VK Мессенджере. "
        "Установите VK Мессенджер. Не влечёт регистрацию в социальной сети ВКонтакте."
    )
    replaced = replace_vk_names(text)
    assert not VK_WORDS.search(replaced)
    assert "доступен в мессенджере MAX" in replaced
    assert "Установите мессенджер MAX" in replaced


@pytest.mark.parametrize(
    ("state", "asked", "kept"),
    [(Messenger.MAX, "max_invite_link", "chat_invite_link"),
     (Messenger.VK, "chat_invite_link", "max_invite_link")],
)  # fmt: skip
def test_the_forms_ask_only_for_the_messengers_link_and_keep_the_other(
    client, organisation, admin, teacher, group, state, asked, kept
):
    """Under MAX the group's pages show only the MAX chat's link, under VK only the Sferum
    chat's: the teacher's and the administrator's forms ask for that one, and a value sent for
    the other changes nothing."""
    group.chat_invite_link, group.max_invite_link = VK_LINK, MAX_LINK
    group.save()
    set_state(organisation, state)
    new = {"chat_invite_link": "https://sferum.ru/?invite=new", "max_invite_link": MAX_LINK + "2"}
    edit = reverse("group_edit", args=[group.pk])
    students = list(group.students.values_list("pk", flat=True))
    everything = {"name": group.name, "teachers": [teacher.pk], "students": students}
    for person, extra in ((teacher, {}), (admin, everything)):
        client.force_login(person)
        fields = client.get(edit).context["form"].fields
        assert asked in fields and kept not in fields
        response = client.post(edit, {**new, **extra})
        assert response.status_code == 302
        assert response["Location"] == reverse("group_detail", args=[group.pk])
        group.refresh_from_db()
        assert list(group.students.values_list("pk", flat=True)) == students
        assert getattr(group, asked) == new[asked]
        assert getattr(group, kept) == (VK_LINK if kept == "chat_invite_link" else MAX_LINK)
        setattr(group, asked, VK_LINK if asked == "chat_invite_link" else MAX_LINK)
        group.save()
    page = client.get(reverse("group_detail", args=[group.pk])).content.decode()
    assert "Ссылки ещё нет" not in page


def test_a_group_without_a_link_says_which_chats_link_to_add(client, organisation, teacher, group):
    client.force_login(teacher)
    for state, sentence in (
        (Messenger.MAX, "Добавьте ссылку-приглашение в чат объединения в MAX"),
        (Messenger.VK, "Создайте чат объединения в «Сферуме» и добавьте ссылку-приглашение"),
        (Messenger.TRANSITION, "в чат объединения в MAX или, пока чат не перенесён, в VK"),
    ):
        set_state(organisation, state)
        page = client.get(reverse("group_detail", args=[group.pk])).content.decode()
        assert sentence in page, state


def test_under_max_a_max_link_kept_in_the_sferum_field_can_be_changed_and_removed(
    client, organisation, teacher, group
):
    """The pages show such a link as the MAX link; the form offers it in the MAX field, and
    saving moves it there, so clearing the field removes it from the pages."""
    group.chat_invite_link, group.max_invite_link = MAX_LINK, ""
    group.save()
    set_state(organisation, Messenger.MAX)
    client.force_login(teacher)
    detail = reverse("group_detail", args=[group.pk])
    edit = reverse("group_edit", args=[group.pk])
    page = client.get(detail).content.decode()
    assert MAX_LINK in page and f'href="{edit}">Изменить ссылку</a>' in page
    form = client.get(edit).context["form"]
    assert form["max_invite_link"].value() == MAX_LINK
    response = client.post(edit, {"max_invite_link": ""})
    assert response.status_code == 302 and response["Location"] == detail
    group.refresh_from_db()
    assert (group.chat_invite_link, group.max_invite_link) == ("", "")
    page = client.get(detail).content.decode()
    assert MAX_LINK not in page and f'href="{edit}">Добавить ссылку</a>' in page
