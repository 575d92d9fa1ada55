"""The department's table as an XLSX workbook (tablib): numbers and names of institutions only."""

from __future__ import annotations

import tablib

from cdt_portal.exports import neutralise

from .selectors import InstitutionRow

HEADER = [
    "Организация",
    "Мессенджер",
    "Заявка на регистрацию",
    "Дата",
    "Ознакомлены с Положением",
    "Сотрудников",
    "%",
    "Статус «учитель» подтверждён",
    "Педагогов",
    "Объединений с чатом",
    "Объединений",
    "Родители проинформированы",
    "Родителей",
    "Согласия на обработку ПДн",
    "Обучающихся",
    "Не ознакомились в срок",
    "Сроки для родителей прошли",
]


def institutions_xlsx(rows: list[InstitutionRow]) -> bytes:
    data = tablib.Dataset(headers=HEADER, title="Организации")
    for row in rows:
        data.append(
            [
                neutralise(row.organisation.short_name),
                row.messenger_label,
                row.registration_label,
                row.registration_date.strftime("%d.%m.%Y") if row.registration_date else "",
                row.staff.done,
                row.staff.total,
                row.staff.percent,
                row.teachers.done,
                row.teachers.total,
                row.groups.done,
                row.groups.total,
                row.parents.done,
                row.parents.total,
                row.consents.done,
                row.consents.total,
                row.staff_overdue,
                ", ".join(row.parents_overdue),
            ]
        )
    return data.export("xlsx")
