"""The seed's regulation as the demo's approved document (order № 201-О of 30.11.2023), and
two more local acts, invented and marked as examples, with the agreement on the простая
электронная подпись, all approved by the director."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from django.utils import timezone

from accounts.models import Organisation, User

from .models import (
    AGREEMENT_CODE,
    REGULATION_CODE,
    Audience,
    Document,
    DocumentKind,
    DocumentVersion,
)
from .services import agreement_create, document_create, version_approve, version_create

SEED_PATH = Path(__file__).resolve().parent / "seed" / "regulation-201-O.txt"
SECTION_HEADING = re.compile(r"^(\d+)\.\s+([А-ЯЁ].*)$")


def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


def parse_seed(text: str) -> dict:
    """Split the seed into its approval stamp, title and body (Markdown), without the sheet."""
    body, _, _ = text.partition("Лист ознакомления")
    stamp = re.search(
        r"Приказ от (\d{2})\.(\d{2})\.(\d{4}) г\.?\s*№\s*(\S+)", body
    )  # «Приказ от 30.11.2023 г № 201-О»
    day, month, year, order_number = stamp.groups()
    title_match = re.search(r"\*\*(.+?)\*\*", body, re.S)
    title_lines = [line.strip() for line in title_match.group(1).splitlines() if line.strip()]
    # The seed sets most of the title in capitals; the print layout capitalises by itself.
    title = f"{title_lines[0]} {_sentence_case(' '.join(title_lines[1:]))}"

    lines = body[title_match.end() :].strip().splitlines()
    markdown = []
    for line in lines:
        line = line.rstrip()
        heading = SECTION_HEADING.match(line)
        if heading:
            markdown.extend(["", f"## {heading.group(1)}. {heading.group(2)}", ""])
        elif line.startswith("- "):
            markdown.append(line)
        elif line:
            if markdown and markdown[-1].startswith("- "):
                markdown.append("")
            markdown.append(line)
            markdown.append("")
        elif markdown and markdown[-1] != "":
            markdown.append("")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(markdown)).strip() + "\n"
    return {
        "title": title,
        "order_number": order_number,
        "order_date": dt.date(int(year), int(month), int(day)),
        "text": text,
    }


def _sentence_case(caps: str) -> str:
    """«ПО ИСПОЛЬЗОВАНИЮ … (ЗАКОННЫМИ ПРЕДСТАВИТЕЛЯМИ) в … «Центр детского творчества»»:
    lower the words the seed typed in capitals, keep the quoted proper name as it is."""
    return " ".join(word.lower() if word.isupper() else word for word in caps.split())


def load_regulation(organisation: Organisation, director: User) -> None:
    versions = DocumentVersion.objects.filter(
        document__organisation=organisation, document__code=REGULATION_CODE
    )
    if versions.exists():
        return  # loaded before: an approved version never changes
    seed = parse_seed(seed_text())
    version = version_create(
        organisation=organisation,
        actor=director,
        title=seed["title"],
        text=seed["text"],
        order_number=seed["order_number"],
        order_date=seed["order_date"],
        approver_position=organisation.head_position,
        approver_name=organisation.head_name,
    )
    version_approve(version=version, actor=director)


EXAMPLE_MARK = "(учебный пример)"
# Invented acts, short, marked as examples: the demo shows documents plural, not real texts.
EXAMPLE_ACTS = (
    {
        "title": f"Правила внутреннего трудового распорядка {EXAMPLE_MARK}",
        "kind": DocumentKind.RULES,
        "order_number": "203-О",
        "new_staff_days": None,
        "due_in_days": 14,
        "text": (
            "## 1. Общие положения\n\n"
            "Учебный пример: правила определяют режим работы, время отдыха и порядок "
            "взаимодействия работников учреждения.\n\n"
            "## 2. Рабочее время\n\n"
            "- продолжительность рабочего времени педагогов устанавливается расписанием "
            "занятий;\n"
            "- о невозможности выйти на работу работник сообщает руководителю в тот же день.\n"
        ),
    },
    {
        "title": f"Инструкция по охране труда при работе с компьютером {EXAMPLE_MARK}",
        "kind": DocumentKind.INSTRUCTION,
        "order_number": "204-О",
        "new_staff_days": 14,
        "due_in_days": 30,
        "text": (
            "## 1. Общие требования\n\n"
            "Учебный пример: инструкция для работников, использующих компьютер.\n\n"
            "## 2. Во время работы\n\n"
            "- делайте перерыв 10–15 минут каждый час;\n"
            "- не оставляйте включённую технику без присмотра.\n"
        ),
    },
)


def load_example_acts(organisation: Organisation, director: User) -> None:
    """The agreement on the простая электронная подпись and two example acts, approved by the
    director; loaded once (the agreement's document is the key)."""
    if Document.objects.filter(organisation=organisation, code=AGREEMENT_CODE).exists():
        return
    today = timezone.localdate()
    order_date = min(dt.date(2026, 11, 30), today)
    agreement = agreement_create(
        organisation=organisation, actor=director, order_number="202-О", order_date=order_date
    )
    version_approve(version=agreement, actor=director)
    for act in EXAMPLE_ACTS:
        version = document_create(
            organisation=organisation,
            actor=director,
            title=act["title"],
            kind=act["kind"],
            audience=Audience.ALL_STAFF,
            new_staff_days=act["new_staff_days"],
            read_by=today + dt.timedelta(days=act["due_in_days"]),
            text=act["text"],
            order_number=act["order_number"],
            order_date=order_date,
            approver_position=organisation.head_position,
            approver_name=organisation.head_name,
        )
        version_approve(version=version, actor=director)
