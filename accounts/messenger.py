"""Every sentence a person reads about the messenger of Sferum's учебный профиль, per state.

In 2025 the учебный профиль moved from VK Messenger into MAX (pilot regions from 25.08.2025,
most regions from autumn 2025): chats were transferred and the old ones became read-only,
people sign in to MAX with the mobile number they gave Sferum, students get a «безопасный
режим» by default, parents need their own MAX account, and taking part is voluntary. The
organisation's setting (`Organisation.messenger`) has three states: VK Мессенджер, MAX, and a
transition (both, until `Organisation.max_only_from`). Templates read `organisation.messenger_texts`
(a `MessengerTexts`) and never branch on the state themselves, so under MAX no sentence sends
anyone to VK.

`regulation_replacements` is the documented table that turns the regulation's mentions of VK
into the MAX wording for a new draft (acknowledgements' `messenger_draft_create`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

VK, MAX, TRANSITION = "vk", "max", "transition"

# Hosts of MAX invite links (https://max.ru/join/…).
MAX_HOSTS = ("max.ru",)

VOLUNTARY = (
    "Участие в «Сферуме» добровольное: семья может отказаться, и тогда организация сообщает ей "
    "всё нужное другим способом (по телефону, в письме или на собрании)."
)


@dataclass(frozen=True)
class MessengerTexts:
    """The wording for one state. Every field is a whole Russian sentence or phrase."""

    state: str
    # Names: «VK Мессенджер», «MAX», «VK Мессенджер и MAX».
    name: str
    # After «доступен»: «в VK Мессенджере», «в MAX»,
    # «в VK Мессенджере и в MAX, а с … — только в MAX».
    where: str
    # The install step on the join page: its bold title and its sentence.
    install_title: str
    install_text: str
    # How to sign in (MAX: the same mobile number as in Sferum); empty under VK.
    sign_in: str
    # The students' safe mode; empty under VK.
    students_safe_mode: str
    # What a parent needs.
    parent_account: str
    # The privacy sentence under the parents' steps.
    privacy: str
    # The chats moved (MAX, transition); empty under VK.
    chats_moved: str
    # The teacher's first step on «Мой статус в «Сферуме»».
    teacher_profile: str
    # One sentence for e-mails and printed invitation slips.
    short: str
    voluntary: str = VOLUNTARY
    # Transition only: the date from which MAX is the only messenger, «01.12.2025».
    max_only_from: str = ""

    @property
    def no_chat_link(self) -> str:
        """A group's page without a chat link yet: which chat's link to add (the ones
        `chat_links` shows in this state)."""
        seen = "обучающиеся и родители увидят её на своей странице."
        if self.state == VK:
            return (
                "Ссылки ещё нет. Создайте чат объединения в «Сферуме» и добавьте "
                f"ссылку-приглашение — {seen}"
            )
        if self.state == MAX:
            return (
                "Ссылки ещё нет. Добавьте ссылку-приглашение в чат объединения в MAX "
                f"(вида https://max.ru/join/…) — {seen}"
            )
        return (
            "Ссылки ещё нет. Добавьте ссылку-приглашение в чат объединения в MAX или, пока "
            f"чат не перенесён, в VK Мессенджере — {seen}"
        )

    @property
    def label(self) -> str:
        """The state in a table's cell: «VK», «переход до 01.12.2025» or «MAX»."""
        if self.state == TRANSITION:
            return f"переход до {self.max_only_from}" if self.max_only_from else "переход"
        return "VK" if self.state == VK else "MAX"


def _date(value: dt.date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def texts_for(state: str, max_only_from: dt.date | None = None) -> MessengerTexts:
    """The wording for `state` ("vk", "max" or "transition")."""
    if state == MAX:
        return MessengerTexts(
            state=MAX,
            name="MAX",
            where="в MAX",
            install_title="Установите MAX.",
            install_text=(
                "Учебный профиль «Сферума» доступен в MAX — национальном мессенджере, а также "
                "через веб-интерфейс на компьютере. В учебном профиле нет рекламы, спама и платных "
                "сервисов."
            ),
            sign_in=(
                "Входите в MAX по тому же номеру мобильного телефона, который вы указали "
                "в «Сферуме»."
            ),
            students_safe_mode="Для обучающихся в MAX по умолчанию включён «безопасный режим».",
            parent_account=(
                "Родителю нужен собственный аккаунт в MAX на свой номер мобильного телефона — "
                "он должен отличаться от номера ребёнка."
            ),
            privacy=(
                "Учебный профиль «Сферума» в MAX — закрытое пространство для педагогов, "
                "обучающихся и их родителей."
            ),
            chats_moved=(
                "Чаты объединений перенесены в MAX; прежние чаты остались только для чтения."
            ),
            teacher_profile="в MAX (вход по номеру телефона из «Сферума»)",
            short="Учебный профиль «Сферума» — в мессенджере MAX.",
        )
    if state == TRANSITION:
        date = _date(max_only_from)
        until = f", а с {date} — только в MAX" if date else ", затем — только в MAX"
        return MessengerTexts(
            state=TRANSITION,
            name="VK Мессенджер и MAX",
            where=f"в VK Мессенджере и в MAX{until}",
            install_title="Установите MAX.",
            install_text=(
                "Учебный профиль «Сферума» переходит из VK Мессенджера в мессенджер MAX. "
                f"Пока доступны оба{f', с {date} — только MAX' if date else ''}. Также "
                "«Сферумом» можно пользоваться через веб-интерфейс на компьютере."
            ),
            sign_in=(
                "Входите в MAX по тому же номеру мобильного телефона, который вы указали "
                "в «Сферуме»."
            ),
            students_safe_mode="Для обучающихся в MAX по умолчанию включён «безопасный режим».",
            parent_account=(
                "Родителю нужен собственный аккаунт в MAX на свой номер мобильного телефона — "
                "он должен отличаться от номера ребёнка."
            ),
            privacy="Использование «Сферума» не требует регистрации в социальной сети «ВКонтакте».",
            chats_moved=(
                "Чаты объединений переносятся в MAX; после переноса прежние чаты в VK "
                "Мессенджере остаются только для чтения."
            ),
            teacher_profile=f"в VK Мессенджере или в MAX{until}",
            short=f"Учебный профиль «Сферума» — в VK Мессенджере и в мессенджере MAX{until}.",
            max_only_from=date,
        )
    return MessengerTexts(
        state=VK,
        name="VK Мессенджер",
        where="в VK Мессенджере",
        install_title="Установите VK Мессенджер.",
        install_text=(
            "Учебный профиль «Сферума» доступен в VK Мессенджере, а также через веб-интерфейс "
            "на компьютере. В учебном профиле нет рекламы, спама и платных сервисов."
        ),
        sign_in="",
        students_safe_mode="",
        parent_account=(
            "Родителю нужен собственный учебный профиль на свой номер мобильного телефона — "
            "он должен отличаться от номера ребёнка."
        ),
        privacy=(
            "Использование «Сферума» не требует регистрации в социальной сети «ВКонтакте». "
            "Если аккаунт в соцсети уже есть, в «Сферуме» он не раскрывается: участники "
            "платформы не видят страниц друг друга."
        ),
        chats_moved="",
        teacher_profile="в VK Мессенджере",
        short="Учебный профиль «Сферума» — в VK Мессенджере.",
    )


# --- Chat links ------------------------------------------------------------------------------


def is_max_link(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in MAX_HOSTS)


@dataclass(frozen=True)
class ChatLink:
    label: str
    url: str


def chat_links(group, texts: MessengerTexts) -> list[ChatLink]:
    """The group's chat links a page shows, labelled, for the organisation's state: under VK
    the Sferum link; under MAX the MAX link (or the Sferum link if it already points to
    max.ru); during the transition both."""
    vk_url, max_url = group.chat_invite_link, group.max_invite_link
    if texts.state == VK:
        return [ChatLink("VK Мессенджер", vk_url)] if vk_url else []
    if texts.state == MAX:
        url = max_url or (vk_url if is_max_link(vk_url) else "")
        return [ChatLink("MAX", url)] if url else []
    links = []
    if vk_url:
        until = f" (до {texts.max_only_from})" if texts.max_only_from else ""
        links.append(ChatLink(f"VK Мессенджер{until}", vk_url))
    if max_url:
        since = f" (с {texts.max_only_from} — только он)" if texts.max_only_from else ""
        links.append(ChatLink(f"MAX{since}", max_url))
    return links


# --- The regulation's wording ----------------------------------------------------------------

# Sentences that swapping names would make false, rewritten whole first. The seed (§2) says
# that using Sferum «не влечет за собой регистрацию в социальной сети ВКонтакте» and that an
# existing social-network account is not disclosed («не могут переходить на страницы
# ВКонтакте друг друга»). Under MAX the first would become false (the mobile app needs a MAX
# account: §4.19 of the same regulation) and the second would speak of pages MAX does not
# have, so both become what is true in MAX: a MAX account on the mobile number given to
# Sferum, no social network needed, and students' «безопасный режим» by default.
MAX_REGISTRATION_SENTENCE = (
    "Для использования ИКОП Сферум в мобильном приложении нужна регистрация в мессенджере MAX "
    "по номеру мобильного телефона — тому же, который пользователь указал в ИКОП Сферум; "
    "регистрация в социальной сети для этого не нужна."
)
MAX_PRIVACY_SENTENCE = (
    "Для обучающихся в мессенджере MAX по умолчанию включён «безопасный режим»: найти "
    "обучающегося и написать ему могут только его контакты."
)
REGULATION_SENTENCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"[^.!?\n]*\bне\s+(?:влеч[её]т(?:\s+за\s+собой)?\s+регистраци\w*|требует\s+"
            r"регистраци\w*)\s+в\s+социальн\w*\s+сет\w*\s+[«\"]?ВКонтакте[»\"]?\.",
            re.IGNORECASE,
        ),
        MAX_REGISTRATION_SENTENCE,
    ),
    (
        re.compile(
            r"(?<![^\s])[^.!?\n]*\bаккаунт\w*\s+в\s+(?:соцсет|социальн)[^.!?\n(]*"
            r"(?:\([^)\n]*\))?\.",
            re.IGNORECASE,
        ),
        MAX_PRIVACY_SENTENCE,
    ),
)

# Then the names, old wording → MAX wording, longest first so that a case form is replaced
# before its stem. «VK Мессенджер» is declined as «мессенджер MAX» (the noun carries the case
# ending, MAX does not decline); the social network's remaining mentions become MAX's. The
# director reviews the draft before approving it by a new order.
REGULATION_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("VK Мессенджером", "мессенджером MAX"),
    ("VK Мессенджеру", "мессенджеру MAX"),
    ("VK Мессенджера", "мессенджера MAX"),
    ("VK Мессенджере", "мессенджере MAX"),
    ("VK Мессенджер", "мессенджер MAX"),
    ("VK Messenger", "MAX"),
    ("социальной сети ВКонтакте", "мессенджере MAX"),
    ("страницы ВКонтакте", "профили в MAX"),
    ("ВКонтакте", "MAX"),
)
_OLD_NAMES = re.compile("|".join(re.escape(old) for old, _new in REGULATION_REPLACEMENTS))


def names_vk(text: str) -> bool:
    """Does the text name VK as the messenger (an entry of the replacement table)?"""
    return bool(_OLD_NAMES.search(text))


def replace_vk_names(text: str) -> str:
    """`text` for MAX: the sentences of `REGULATION_SENTENCES` rewritten whole, then every entry
    of `REGULATION_REPLACEMENTS` replaced (one pass, longest match first)."""
    for pattern, sentence in REGULATION_SENTENCES:
        text = pattern.sub(lambda m, s=sentence: _keep_leading_space(m.group(0), s), text)
    table = dict(REGULATION_REPLACEMENTS)
    return _OLD_NAMES.sub(lambda m: table[m.group(0)], text)


def _keep_leading_space(old: str, new: str) -> str:
    return old[: len(old) - len(old.lstrip())] + new
