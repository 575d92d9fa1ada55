"""A person's grammatical gender, as the patronymic tells it, for the forms a text must choose:
«назначен» / «назначена», «ознакомлен» / «ознакомлена», «сделал» / «сделала». The model has no
gender field: the patronymic's ending (-вич, -ич; -вна, -чна; the Turkic «оглы», «улы»,
«уулу» / «кызы», «гызы») tells it, and where it does not (no patronymic, initials only) the
text keeps both forms, «назначен(а)».
"""

from __future__ import annotations

from typing import Protocol

MALE, FEMALE = "m", "f"
UNKNOWN_SUFFIX = "(а)"

_MALE_ENDINGS = ("вич", "ич", "оглы", "огли", "улы", "уулу")
_FEMALE_ENDINGS = ("вна", "чна", "кызы", "гызы", "қызы", "кизи")


class _Named(Protocol):
    patronymic: str


def gender_of(patronymic: str | None) -> str | None:
    """MALE, FEMALE, or None when the patronymic does not tell (empty, an initial)."""
    word = (patronymic or "").strip().lower().replace("ё", "е")
    if word.endswith(_FEMALE_ENDINGS):
        return FEMALE
    if word.endswith(_MALE_ENDINGS):
        return MALE
    return None


def gender_of_full_name(full_name: str) -> str | None:
    """The gender from «Фамилия Имя Отчество» (the patronymic is all after the second word, so
    «Алиев Рашид Мамед оглы» reads «Мамед оглы»); None for «Захарова О.В.»."""
    words = full_name.split()
    return gender_of(" ".join(words[2:])) if len(words) > 2 else None


def _gender(who: _Named | str | None) -> str | None:
    if who is None or who in (MALE, FEMALE):
        return who
    if isinstance(who, str):
        return gender_of_full_name(who)
    return gender_of(who.patronymic)


def gender_suffix(who: _Named | str | None) -> str:
    """What a masculine past form takes for `who` (a person, a full name, MALE, FEMALE or None):
    «» for a man, «а» for a woman, «(а)» where the gender is not known."""
    gender = _gender(who)
    return {MALE: "", FEMALE: "а"}.get(gender, UNKNOWN_SUFFIX)


def gendered(word: str, who: _Named | str | None) -> str:
    """`word` (the masculine form: «назначен», «ознакомлен», «сделал») in the form for `who`:
    «назначен», «назначена», or «назначен(а)» where the gender is not known."""
    return word + gender_suffix(who)
