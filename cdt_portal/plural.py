"""Russian plural forms: «1 абзац», «2 абзаца», «5 абзацев», «11 абзацев», «21 абзац»."""

from __future__ import annotations


def plural(number: int, one: str, few: str, many: str) -> str:
    """The form of a word that goes with `number`: `one` for 1, 21, 101…; `few` for 2–4, 22–24…;
    `many` for 0, 5–20, 25–30… (the teens always take `many`)."""
    number = abs(number)
    if number % 10 == 1 and number % 100 != 11:
        return one
    if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
        return few
    return many
