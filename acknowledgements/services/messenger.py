"""The move to MAX: a draft of the regulation's new version with the messenger's name replaced,
for the director to approve by a new order."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.messenger import names_vk, replace_vk_names
from accounts.models import Messenger, Organisation, User
from cdt_portal.errors import PortalError

from ..models import DocumentVersion
from ..selectors import current_version, open_regulation_draft
from .versions import version_create

DRAFT_NOT_NEEDED_VK = "Мессенджер организации — VK Мессенджер: менять в Положении нечего."
DRAFT_NO_REGULATION = "Утверждённой редакции Положения ещё нет: проект новой редакции не из чего."
DRAFT_NOTHING_TO_REPLACE = "Утверждённая редакция Положения уже не называет VK Мессенджер."


def messenger_draft_create(*, organisation: Organisation, actor: User) -> DocumentVersion:
    """A draft of a new regulation version in which VK's names are replaced by the MAX wording
    (`accounts.messenger.REGULATION_REPLACEMENTS`), for the director to review and approve by a
    new order (the order's number is left for the director). Made by `version_create`, which
    writes its one entry («version.created»). While a draft exists it is returned and nothing
    is written, so a second press makes no second draft."""
    with transaction.atomic():
        # Two presses at once wait for each other here; the second finds the first's draft.
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if locked.messenger == Messenger.VK:
            raise PortalError(DRAFT_NOT_NEEDED_VK)
        draft = open_regulation_draft(organisation)
        if draft is not None:
            return draft
        current = current_version(organisation)
        if current is None:
            raise PortalError(DRAFT_NO_REGULATION)
        if not names_vk(current.text):
            raise PortalError(DRAFT_NOTHING_TO_REPLACE)
        return version_create(
            organisation=organisation,
            actor=actor,
            title=current.title,
            text=replace_vk_names(current.text),
            order_number="",
            order_date=timezone.localdate(),
            approver_position=organisation.head_position,
            approver_name=organisation.head_name,
        )
