"""Each role's home page and navigation, declared once."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from accounts.models import Role, User


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: str
    roles: frozenset[str]
    # Not shown to holders of these roles, who reach the same things another way.
    hidden_for: frozenset[str] = frozenset()


NAV_ITEMS = [
    NavItem("dashboard", "Панель", frozenset({Role.ADMIN, Role.DIRECTOR})),
    NavItem("people", "Люди", frozenset({Role.ADMIN, Role.DIRECTOR})),
    NavItem("organisation_settings", "Организация", frozenset({Role.ADMIN, Role.DIRECTOR})),
    NavItem("group_list", "Объединения", frozenset({Role.ADMIN, Role.DIRECTOR})),
    NavItem(
        "teacher_home",
        "Мои объединения",
        frozenset({Role.TEACHER}),
        hidden_for=frozenset({Role.ADMIN, Role.DIRECTOR}),
    ),
    NavItem("registration_request", "Заявка", frozenset({Role.ADMIN, Role.DIRECTOR})),
    # Every local act, the regulation first: managers see all of them and their progress, a
    # teacher what they must read («Мои документы»; managers reach theirs from the list).
    NavItem("document_list", "Документы", frozenset({Role.ADMIN, Role.DIRECTOR})),
    NavItem(
        "my_documents",
        "Документы",
        frozenset({Role.TEACHER}),
        hidden_for=frozenset({Role.ADMIN, Role.DIRECTOR}),
    ),
    # §4.7: the director and administrators keep their own Sferum status too.
    NavItem(
        "my_sferum_status", "Мой «Сферум»", frozenset({Role.TEACHER, Role.ADMIN, Role.DIRECTOR})
    ),
    NavItem("audit_log", "Журнал", frozenset({Role.ADMIN, Role.DIRECTOR})),
    NavItem("family_home", "«Сферум» для семьи", frozenset({Role.STUDENT, Role.PARENT})),
]
# A department's person belongs to no organisation: their own pages.
DEPARTMENT_NAV = [
    NavItem("department", "Организации", frozenset({Role.DEPARTMENT})),
    NavItem("department_messages", "Сообщения", frozenset({Role.DEPARTMENT})),
]

# Where a person lands after signing in: the first role they hold in this order.
HOME_BY_ROLE = [
    (Role.ADMIN, "dashboard"),
    (Role.DIRECTOR, "dashboard"),
    (Role.TEACHER, "teacher_home"),
    (Role.PARENT, "family_home"),
    (Role.STUDENT, "family_home"),
]


def _department_person(user: User) -> bool:
    return user.department_id is not None and user.has_role(Role.DEPARTMENT)


def home_url(user: User) -> str:
    if _department_person(user):
        return reverse("department")
    if user.organisation_id is not None:
        for role, url_name in HOME_BY_ROLE:
            if user.has_role(role):
                return reverse(url_name)
    if user.is_superuser:
        return reverse("admin:index")
    return reverse("profile")


def nav_for(user: User) -> list[dict[str, str]]:
    if not user.is_authenticated:
        return []
    if _department_person(user):
        items = DEPARTMENT_NAV
    elif user.organisation_id is not None:
        items = NAV_ITEMS
    else:
        return []
    return [
        {"url": reverse(item.url_name), "label": item.label, "name": item.url_name}
        for item in items
        if user.has_role(*item.roles) and not user.has_role(*item.hidden_for)
    ]
