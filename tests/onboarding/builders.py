"""Registration requests and notices built through the services, as the portal builds them."""

import datetime as dt

from cdt_portal.audit import history
from onboarding.services import (
    notice_publish,
    request_mark_ready,
    request_prepare_letter,
    request_start,
    request_update_details,
)
from onboarding.uploads import CheckedScan

PNG_SCAN = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def make_ready_request(organisation, actor):
    """A registration request with the letter signed and the scan attached, for any
    organisation (the `ready_request` fixture and the race tests build it the same way)."""
    registration = request_start(organisation=organisation, actor=actor)
    request_update_details(
        request=registration,
        actor=actor,
        full_name=actor.full_name,
        position="педагог дополнительного образования",
        phone="+79123456789",
    )
    registration = request_prepare_letter(request=registration, actor=actor)
    return request_mark_ready(
        request=registration,
        actor=actor,
        scan=CheckedScan(PNG_SCAN, "image/png", "png"),
        questionnaire_filled_on=dt.date(2026, 11, 20),
    )


def make_notice(organisation, actor):
    return notice_publish(
        organisation=organisation,
        actor=actor,
        text="Мы используем «Сферум». Подробности — в портале.",
    )


def request_states(registration) -> list[tuple[str, str]]:
    """The request's state changes, (from, to), oldest first, as its audit history tells."""
    return [
        (entry.data["from"], entry.data["to"])
        for entry in history(registration)
        if entry.action == f"request.{entry.data.get('to')}"
    ]
