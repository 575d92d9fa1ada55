"""Study groups (объединения): their teachers, students and chat links."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError

from ..models import (
    Organisation,
    StudyGroup,
    User,
)
from ..roles import GROUP_NOT_YOURS, may_edit_group
from .common import _assign, _full_clean, _locked

# --- Groups -------------------------------------------------------------------------------


def _ids(people: Iterable[User]) -> list[int]:
    return sorted(person.pk for person in people)


GROUP_LINK_FIELDS = ("chat_invite_link", "max_invite_link")


def group_create(
    *,
    organisation: Organisation,
    actor: User,
    name: str,
    teachers: Iterable[User] = (),
    students: Iterable[User] = (),
    chat_invite_link: str = "",
    max_invite_link: str = "",
) -> StudyGroup:
    teachers, students = list(teachers), list(students)
    with transaction.atomic():
        group = StudyGroup(
            organisation=organisation,
            name=name,
            chat_invite_link=chat_invite_link,
            max_invite_link=max_invite_link,
        )
        _full_clean(group)
        group.save()
        group.teachers.set(teachers)
        group.students.set(students)
        log_action(
            actor,
            group,
            "group.created",
            {
                "name": name,
                "teachers": _ids(teachers),
                "students": _ids(students),
                "chat_invite_link": chat_invite_link,
                **({"max_invite_link": max_invite_link} if max_invite_link else {}),
            },
        )
    return group


def group_update(
    *,
    group: StudyGroup,
    actor: User,
    name: str,
    teachers: Iterable[User],
    students: Iterable[User],
    chat_invite_link: str | None = None,
    max_invite_link: str | None = None,
) -> StudyGroup:
    """Everything about a group (the administrator). A link given as None is left as it is:
    the form asks only for the links of the organisation's messenger."""
    teachers, students = list(teachers), list(students)
    values = {"name": name, **_links_given(chat_invite_link, max_invite_link)}
    with transaction.atomic():
        locked = _locked(group)
        changed = _assign(locked, values, ("name", *GROUP_LINK_FIELDS))
        if changed:
            _full_clean(locked)
            locked.save(update_fields=list(changed))
        for field, people in (("teachers", teachers), ("students", students)):
            members = getattr(locked, field)
            before = _ids(members.all())
            if before != _ids(people):
                members.set(people)
                changed[field] = [before, _ids(people)]
        if changed:
            log_action(actor, locked, "group.updated", changed)
    return locked


def _links_given(chat_invite_link: str | None, max_invite_link: str | None) -> dict:
    """The links to store: a link given as None is left as it is."""
    given = {"chat_invite_link": chat_invite_link, "max_invite_link": max_invite_link}
    return {field: value for field, value in given.items() if value is not None}


def group_set_link(
    *,
    group: StudyGroup,
    actor: User,
    chat_invite_link: str | None = None,
    max_invite_link: str | None = None,
) -> StudyGroup:
    """A teacher keeps their own group's chat invite links (the Sferum one under VK, the MAX
    one under MAX, both during the move; `None` leaves a link as it is). Nobody else's but an
    administrator's (`roles.may_edit_group`)."""
    values = _links_given(chat_invite_link, max_invite_link)
    with transaction.atomic():
        locked = _locked(group)
        if not may_edit_group(actor, locked):
            raise PortalError(GROUP_NOT_YOURS, field="chat_invite_link")
        changed = _assign(locked, values, GROUP_LINK_FIELDS)
        if changed:
            _full_clean(locked)
            locked.save(update_fields=list(changed))
            log_action(actor, locked, "group.link_changed", changed)
    return locked
