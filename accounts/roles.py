"""Who may grant what: the one rule table, and the questions the services and forms ask of it.

The platform superuser (Django admin) sets up an organisation and appoints its director; the
director appoints and removes platform administrators; administrators manage teachers,
students and parents. Nobody changes their own roles. Who may put a password on someone
else's account (an invitation, a printed slip, an e-mail a reset link would go to) is who
stands above every role that person holds (`reach`): an administrator cannot open the
director's or another administrator's account. The e-mail and phone of a director or an
administrator are changed only by that person, or by whoever stands above them, and only
after re-entering the password (the services check it). The portal's own staff (Django
admin's staff and superusers) stand outside every organisation's hierarchy whatever roles
they hold or lack: only the superuser changes their roles, account, contacts or password
(`is_platform_staff`; tests/trust/test_platform_staff_out_of_reach.py).
"""

from __future__ import annotations

from .models import Role, StudyGroup, User

# The roles each role may add to or remove from someone else.
GRANTABLE: dict[str, frozenset[str]] = {
    Role.DIRECTOR: frozenset({Role.ADMIN}),
    Role.ADMIN: frozenset({Role.TEACHER, Role.STUDENT, Role.PARENT}),
}
# Whose roles each role may touch at all: a person holding any role outside this set is out of
# reach (an administrator cannot edit the director's roles, nor another administrator's).
MANAGEABLE: dict[str, frozenset[str]] = {
    Role.DIRECTOR: frozenset({Role.ADMIN, Role.TEACHER, Role.STUDENT, Role.PARENT}),
    Role.ADMIN: frozenset({Role.TEACHER, Role.STUDENT, Role.PARENT}),
}
# People whose account is worth taking over: their contacts are guarded (see module doc).
MANAGER_ROLES = frozenset({Role.DIRECTOR, Role.ADMIN})

OWN_ROLES = "Нельзя менять собственные роли."
OWN_ADMIN_ROLE = "Нельзя снять с себя роль администратора."
NOT_YOURS = "Вы не можете менять роли этого человека: это делает руководитель."
NOT_GRANTABLE = "Вы не можете назначать или снимать роли: {roles}."
ACCOUNT_NOT_YOURS = (
    "Отключать и включать учётную запись руководителя или администратора может только руководитель."
)
UNLOCK_NOT_YOURS = (
    "Снять блокировку входа руководителя или администратора может только тот, кто назначает все "
    "его роли (администратору — руководитель)."
)
GROUP_NOT_YOURS = "Ссылки на чаты объединения меняют его педагоги и администратор."
CONTACTS_LOCKED = (
    "E-mail и телефон этого человека меняет только он сам или тот, кто назначает все его роли "
    "(администратору — руководитель)."
)


PLATFORM_STAFF_OUT_OF_REACH = (
    "{name} — сотрудник платформы (администратор портала): эту учётную запись меняет только "
    "суперпользователь."
)


def is_platform_staff(person: User | None) -> bool:
    """The portal's own operators: their account opens the Django admin, so taking it over
    would be worth more than any organisation's role (one may carry an organisation, and
    roles, or none)."""
    return bool(person is not None and (person.is_superuser or person.is_staff))


def _union(table: dict[str, frozenset[str]], user: User) -> frozenset[str]:
    if user.is_superuser:
        return frozenset(Role.values)
    return frozenset().union(*(table.get(role, frozenset()) for role in user.roles))


def grantable_roles(actor: User) -> frozenset[str]:
    return _union(GRANTABLE, actor)


def may_switch_account(actor: User, person: User) -> bool:
    """Whether the actor may deactivate or reactivate the person: the same reach as over their
    roles (an administrator cannot lock out the director or another administrator)."""
    return may_manage_roles_of(actor, person.roles, person)


def may_manage_roles_of(actor: User, held: frozenset[str] | set[str], person: User | None) -> bool:
    """`held`: the person's roles now; `person`: None for a new one."""
    if person is not None and person.pk == actor.pk:
        return False
    if is_platform_staff(person) and not actor.is_superuser:
        return False
    return set(held) <= _union(MANAGEABLE, actor)


def editable_roles(actor: User, person: User | None) -> frozenset[str]:
    """The roles the actor's form offers for this person (a new one when `person` is None)."""
    held = person.roles if person is not None else frozenset()
    if not may_manage_roles_of(actor, held, person):
        return frozenset()
    return grantable_roles(actor)


def role_change_refusal(
    actor: User, person: User | None, before: set[str], after: set[str]
) -> tuple[str, list[str]] | None:
    """Why the actor may not turn `before` into `after` (and the roles at stake), or None;
    `person`: None for a new one."""
    changed = set(before) ^ set(after)
    if not changed:
        return None
    if person is not None and person.pk == actor.pk:
        if Role.ADMIN in before and Role.ADMIN not in after:
            return OWN_ADMIN_ROLE, _plain(changed)
        return OWN_ROLES, _plain(changed)
    if not may_manage_roles_of(actor, before, person):
        return NOT_YOURS, _plain(changed)
    refused = changed - grantable_roles(actor)
    if refused:
        labels = ", ".join(str(label) for value, label in Role.choices if value in refused)
        return NOT_GRANTABLE.format(roles=labels), _plain(refused)
    return None


def _plain(roles: set[str]) -> list[str]:
    return sorted(str(role) for role in roles)


def is_manager(person: User, held: frozenset[str] | set[str] | None = None) -> bool:
    """Whether the account is worth taking over: a director's, an administrator's, or the
    platform staff's (their contacts need the password, their invitation a mailed code).
    `held`: the person's roles as just read, when the caller has them (else `person.roles`)."""
    roles = person.roles if held is None else held
    return is_platform_staff(person) or bool(set(roles) & MANAGER_ROLES)


def reach(actor: User) -> frozenset[str]:
    """Every role the actor stands above: what they may grant, and what those roles may grant
    in turn (the director grants administrators, who grant teachers, students and parents:
    the director stands above all four). The superuser stands above every role."""
    if actor.is_superuser:
        return frozenset(Role.values)
    found: set[str] = set()
    frontier = set(actor.roles)
    while frontier:
        granted = set().union(*(GRANTABLE.get(role, frozenset()) for role in frontier)) - found
        found |= granted
        frontier = granted
    return frozenset(found)


ACCOUNT_OUT_OF_REACH = (
    "{name}: приглашение, ссылку для выбора пароля или новый e-mail может дать только тот, кто "
    "назначает все его роли ({roles})."
)


def may_open_account_of(actor: User, person: User) -> bool:
    """Who may put a password on someone else's account (an invitation, a printed slip, a
    changed e-mail its reset link would go to): only an actor who stands above every role the
    person holds, in the person's own organisation, or the superuser. Anyone else could take
    the account over, with all its roles."""
    if actor.is_superuser:
        return True
    if actor.pk == person.pk or actor.organisation_id != person.organisation_id:
        return False
    return not is_platform_staff(person) and set(person.roles) <= reach(actor)


def out_of_reach_message(person: User) -> str:
    if is_platform_staff(person):
        return PLATFORM_STAFF_OUT_OF_REACH.format(name=person.full_name or person.username)
    labels = ", ".join(str(label) for value, label in Role.choices if value in person.roles)
    return ACCOUNT_OUT_OF_REACH.format(name=person.full_name or person.username, roles=labels)


def may_change_contacts(actor: User, person: User, held: frozenset[str] | set[str]) -> bool:
    """Whether the actor may change this person's e-mail and phone: the person themself, the
    superuser, or whoever stands above every role the person holds (an e-mail is where a
    reset link goes: whoever sets it could take the account)."""
    if actor.pk == person.pk or actor.is_superuser:
        return True
    return not is_platform_staff(person) and set(held) <= reach(actor)


def contacts_need_password(actor: User, person: User, held: frozenset[str] | set[str]) -> bool:
    """A change to one's own contacts, or to a manager's, is confirmed with the actor's password."""
    return actor.pk == person.pk or is_manager(person, held)


def may_edit_group(actor: User, group: StudyGroup) -> bool:
    """Whether the actor may open the group's form: an administrator of its organisation (the
    whole group), or one of its own teachers (its chat links only). The director sees every
    group but edits none, even while teaching another group: a chat link is where families
    go, so only whoever keeps the group's chat sets it. `group.teachers` prefetched is read
    from the prefetch."""
    if actor.organisation_id is None or actor.organisation_id != group.organisation_id:
        return False
    if actor.has_role(Role.ADMIN):
        return True
    return actor.has_role(Role.TEACHER) and any(
        teacher.pk == actor.pk for teacher in group.teachers.all()
    )
