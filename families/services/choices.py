"""A family's choice of another channel than Sferum, and its return."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Guardianship, User
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.errors import PortalError

from ..actions import (
    FAMILY_DECLINED,
    FAMILY_RETURNED,
)
from ..models import (
    FamilyChannel,
    FamilyChoice,
)


def family_choice_set(
    *, parent: User, student: User, declined: bool, channel: str = "", contact: str = ""
):
    """The parent says «не используем „Сферум“» for their child and names another channel, or
    changes their mind. Nobody is pressed: the choice needs no reason. The same choice again
    changes nothing."""

    if not Guardianship.objects.filter(parent=parent, student=student).exists():
        raise PortalError("Выбор делает только родитель (законный представитель) этого ребёнка.")
    contact = contact.strip()
    if declined:
        if channel not in FamilyChannel.values:
            raise PortalError("Выберите другой способ связи.", field="channel")
        if channel in (FamilyChannel.PHONE, FamilyChannel.EMAIL) and not contact:
            what = "номер телефона" if channel == FamilyChannel.PHONE else "адрес электронной почты"
            raise PortalError(f"Укажите {what} для связи.", field="contact")
        if channel == FamilyChannel.PAPER:
            contact = ""
    else:
        channel, contact = "", ""
    with transaction.atomic():
        choice = (
            FamilyChoice.objects.select_for_update().filter(parent=parent, student=student).first()
        )
        if choice is None:
            if not declined:
                return None
            choice = FamilyChoice.objects.create(
                parent=parent, student=student, declined=True, channel=channel, contact=contact
            )
            log_action(parent, choice, FAMILY_DECLINED, {"student": student.pk, "channel": channel})
            return choice
        before = snapshot(choice, ["declined", "channel", "contact"])
        choice.declined, choice.channel, choice.contact = declined, channel, contact
        changed = changes(before, snapshot(choice, ["declined", "channel", "contact"]))
        if not changed:
            return choice
        choice.save()
        changed.pop("contact", None)  # the contact is personal data: not in the log
        log_action(
            parent,
            choice,
            FAMILY_DECLINED if declined else FAMILY_RETURNED,
            {"student": student.pk, **changed},
        )
    return choice
