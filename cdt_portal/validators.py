"""Validators shared by the apps' models."""

from __future__ import annotations

from django.core.validators import RegexValidator

# A name, a title or a number is one line: a line break or another control character in it
# (Unicode's Cc: U+0000–U+001F, U+007F–U+009F; only a hand-made request can send one through a
# one-line field) would break the e-mail headers it goes into, so it is refused with a message
# (tests/core/test_single_line.py).
single_line = RegexValidator(
    r"[\x00-\x1f\x7f-\x9f]",
    inverse_match=True,
    message="Введите текст в одну строку: без переносов строк и управляющих символов.",
    code="not_single_line",
)
