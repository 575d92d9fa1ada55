"""§5.1 of the regulation: the checklist of the local acts and the additional programmes the
institution amends to provide for Sferum."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, User
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.errors import Gone, PortalError

from ..actions import AMENDMENT_ACT_ADDED, AMENDMENT_ACT_REMOVED, AMENDMENT_UPDATED
from ..models import AmendmentItem, AmendmentState

AMENDMENT_FIELDS = ("state", "amended_on", "note")


def _amendment_apply(
    item: AmendmentItem, actor: User, *, state: str, amended_on: dt.date | None, note: str
) -> AmendmentItem:
    """The item's new state, date and note, and one audit entry, in the caller's transaction.
    «Amended» needs its date (today when none is given); «to do» keeps none."""
    if state not in AmendmentState.values:
        raise PortalError("Неизвестное состояние.", field="state")
    if state == AmendmentState.AMENDED:
        amended_on = amended_on or timezone.localdate()
        if amended_on > timezone.localdate():
            raise PortalError("Дата изменения не может быть позже сегодняшней.", field="amended_on")
    else:
        amended_on = None
    before = snapshot(item, AMENDMENT_FIELDS)  # an unsaved programme item: its defaults
    item.state, item.amended_on, item.note = state, amended_on, note.strip()
    after = snapshot(item, AMENDMENT_FIELDS)
    changed = changes(before, after)
    if not changed:
        return item
    item.save()
    log_action(actor, item, AMENDMENT_UPDATED, changed)
    return item


def amendment_programme_update(
    *, group, actor: User, state: str, amended_on: dt.date | None, note: str = ""
) -> AmendmentItem:
    """A group's additional programme: its row is stored by its first change (the checklist
    reads a group without one as «to do»)."""
    with transaction.atomic():
        item = AmendmentItem.objects.select_for_update().filter(group=group).first()
        if item is None:
            item = AmendmentItem(organisation_id=group.organisation_id, group=group)
        return _amendment_apply(item, actor, state=state, amended_on=amended_on, note=note)


def amendment_act_add(*, organisation: Organisation, actor: User, title: str) -> AmendmentItem:
    title = " ".join(title.split())
    if not title:
        raise PortalError("Укажите название локального акта.", field="title")
    with transaction.atomic():
        # Compared here, not with `iexact`: SQLite folds the case of Latin letters only.
        named = AmendmentItem.objects.filter(organisation=organisation, group__isnull=True)
        if title.casefold() in {t.casefold() for t in named.values_list("title", flat=True)}:
            raise PortalError("Такой локальный акт уже есть в списке.", field="title")
        item = AmendmentItem.objects.create(organisation=organisation, title=title)
        log_action(actor, item, AMENDMENT_ACT_ADDED, {"title": title})
    return item


def amendment_act_update(
    *, item: AmendmentItem, actor: User, state: str, amended_on: dt.date | None, note: str = ""
) -> AmendmentItem:
    with transaction.atomic():
        locked = _locked_act(item)
        return _amendment_apply(locked, actor, state=state, amended_on=amended_on, note=note)


ACT_GONE = "Этого документа уже нет в списке: его убрали."


def _locked_act(item: AmendmentItem) -> AmendmentItem:
    """The act, locked; `Gone` when it was removed since the page was shown."""
    locked = (
        AmendmentItem.objects.select_for_update().filter(pk=item.pk, group__isnull=True).first()
    )
    if locked is None:
        raise Gone(ACT_GONE)
    return locked


def amendment_act_remove(*, item: AmendmentItem, actor: User) -> None:
    """A local act named by mistake leaves the list; the audit log keeps what it was."""
    with transaction.atomic():
        locked = _locked_act(item)
        log_action(
            actor,
            locked,
            AMENDMENT_ACT_REMOVED,
            {"title": locked.title, **snapshot(locked, AMENDMENT_FIELDS)},
        )
        locked.delete()
