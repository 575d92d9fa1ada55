"""Checking a document against what the portal stored: the text of a version against the
SHA-256 recorded at its approval, each confirmation against the text it was given for, and a
sheet's embedded log (`documents.confirmation_log`) against the records. Reads only; the page
is `views_documents.version_verify`, reached by the QR code on the order and the sheet."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import Acknowledgement, DocumentVersion, text_sha256
from .selectors import counted_version_ids


@dataclass(frozen=True)
class VersionCheck:
    version: DocumentVersion
    text_matches: bool  # the stored text still has the SHA-256 recorded at approval
    order_stored: bool
    confirmations: int
    # Confirmations whose recorded text hash is not that of the version they were given for.
    mismatched: list[Acknowledgement]


def version_check(version: DocumentVersion) -> VersionCheck:
    acks = list(
        Acknowledgement.objects.filter(version__in=counted_version_ids(version)).select_related(
            "person", "version"
        )
    )
    return VersionCheck(
        version=version,
        text_matches=bool(version.text_sha256) and text_sha256(version.text) == version.text_sha256,
        order_stored=bool(version.order_pdf),
        confirmations=len(acks),
        mismatched=[a for a in acks if a.text_sha256 != a.version.text_sha256],
    )


MATCHES = "совпадает с записью портала"
NOT_RECORDED = "нет такой записи в портале"
LATER = "подтверждено после того, как файл был сформирован"
LEFT_OUT = "есть в портале, но нет в файле, сформированном позже"


@dataclass(frozen=True)
class LogLine:
    full_name: str
    acknowledged_on: str  # 04.12.2023
    outcome: str  # MATCHES, NOT_RECORDED, LATER or what differs
    ok: bool


def _differences(entry: dict, ack: Acknowledgement) -> list[str]:
    expected = {
        "дата ознакомления": (entry.get("acknowledged_on"), ack.acknowledged_on.isoformat()),
        "способ": (entry.get("method"), ack.method),
        "время записи": (entry.get("recorded_at"), ack.recorded_at.isoformat()),
        "SHA-256 текста": (entry.get("text_sha256"), ack.text_sha256),
        "соглашение": (
            (entry.get("agreement") or {}).get("version_id"),
            ack.agreement_id,
        ),
    }
    return [name for name, (shown, stored) in expected.items() if shown != stored]


def log_check(version: DocumentVersion, log: dict) -> list[LogLine]:
    """Each confirmation the file's log shows, compared with the portal's record of it; then
    those recorded since the file was made (not in it)."""
    acks = {
        ack.person_id: ack
        for ack in Acknowledgement.objects.filter(
            version__in=counted_version_ids(version)
        ).select_related("person")
    }
    lines, seen = [], set()
    for entry in log.get("confirmations") or []:
        person = entry.get("person") or {}
        ack = acks.get(person.get("id"))
        name, day = str(person.get("full_name", "")), _russian(entry.get("acknowledged_on"))
        if ack is None:
            lines.append(LogLine(name, day, NOT_RECORDED, False))
            continue
        seen.add(ack.person_id)
        differs = _differences(entry, ack)
        outcome = MATCHES if not differs else "не совпадает: " + ", ".join(differs)
        lines.append(LogLine(name, day, outcome, not differs))
    made_at = _moment(log.get("made_at"))
    for person_id, ack in acks.items():
        if person_id not in seen:
            later = made_at is not None and ack.recorded_at > made_at
            lines.append(
                LogLine(
                    ack.person.full_name,
                    f"{ack.acknowledged_on:%d.%m.%Y}",
                    LATER if later else LEFT_OUT,
                    later,
                )
            )
    return lines


def _russian(value) -> str:
    """«04.12.2023» from the log's ISO date; whatever else it holds, as it is."""
    try:
        return f"{dt.date.fromisoformat(value):%d.%m.%Y}"
    except (TypeError, ValueError):
        return str(value or "")


def _moment(value) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
