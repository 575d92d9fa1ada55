"""Validators shared by the apps' models."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible


@deconstructible
class SingleLine:
    """A name, a title or a number is one line: a line break or another control character
    in it (only a hand-made request can send one through a one-line field) would break the
    e-mail headers and file names it goes into, so it is refused with a message
    (tests/core/test_single_line.py)."""

    message = "Введите текст в одну строку: без переносов строк и управляющих символов."
    code = "not_single_line"

    def __call__(self, value: str) -> None:
        if any(unicodedata.category(char) == "Cc" for char in value or ""):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SingleLine)

    def __hash__(self) -> int:
        return hash(SingleLine)


single_line = SingleLine()
