"""Workflows over people and roles."""

from __future__ import annotations

import re

from django.db import transaction

from .models import Guardianship, User, UserRole

# The transliteration of Russian passports (ICAO Doc 9303), used for usernames only.
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o",
            "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "ie", "y", "", "e",
            "iu", "ia",
        ],
        strict=True,
    )
)  # fmt: skip


def transliterate(text: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())


def username_base(*, last_name: str, first_name: str, patronymic: str = "") -> str:
    """andriushenko.le for Андрюшенко Лидия Евгеньевна."""
    initials = "".join(transliterate(p.strip())[:1] for p in (first_name, patronymic) if p)
    base = re.sub(r"[^a-z0-9]+", "", transliterate(last_name))
    return f"{base}.{initials}" if initials else base or "user"


def free_username(base: str, taken: set[str] | None = None) -> str:
    """`base`, or `base2`, `base3`… whichever is free. With `taken` (lower-case usernames
    already in use), no query is made and the chosen name is added to it (bulk imports)."""

    def is_taken(name: str) -> bool:
        if taken is not None:
            return name.lower() in taken
        return User.objects.filter(username__iexact=name).exists()

    candidate, n = base, 1
    while is_taken(candidate):
        n += 1
        candidate = f"{base}{n}"
    if taken is not None:
        taken.add(candidate.lower())
    return candidate


def user_set_roles(*, user: User, roles: set[str]) -> None:
    """Make `roles` exactly the person's roles."""
    with transaction.atomic():
        UserRole.objects.filter(user=user).exclude(role__in=roles).delete()
        existing = set(UserRole.objects.filter(user=user).values_list("role", flat=True))
        UserRole.objects.bulk_create([UserRole(user=user, role=r) for r in roles - existing])
    user.__dict__.pop("roles", None)


def guardianship_link(*, parent: User, student: User) -> Guardianship:
    if parent.organisation_id != student.organisation_id:
        raise ValueError("A parent and a student must belong to the same organisation")
    link, _ = Guardianship.objects.get_or_create(parent=parent, student=student)
    return link


def person_create(
    *,
    organisation,
    actor: User,
    last_name: str,
    first_name: str,
    patronymic: str = "",
    position: str = "",
    email: str = "",
    phone="",
    roles: set[str],
) -> User:
    """A new person of the organisation, without a password until they accept an invitation."""
    with transaction.atomic():
        user = User(
            organisation=organisation,
            username=free_username(
                username_base(last_name=last_name, first_name=first_name, patronymic=patronymic)
            ),
            last_name=last_name,
            first_name=first_name,
            patronymic=patronymic,
            position=position,
            email=email.lower(),
            phone=phone,
        )
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        user_set_roles(user=user, roles=roles)
    return user


def person_set_active(*, person: User, active: bool) -> User:
    """Deactivating keeps every record; the person simply cannot sign in any more."""
    person.is_active = active
    person.save(update_fields=["is_active"])
    return person
