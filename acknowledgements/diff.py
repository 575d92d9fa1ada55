"""What changed between two texts, word by word: pure functions, no database.

The texts are split into words and the whitespace between them (kept as tokens, so the
result joined back gives each text exactly), compared with `difflib.SequenceMatcher`, and
returned as segments: unchanged, inserted or deleted. A replaced run of words becomes its
deletion followed by its insertion.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

EQUAL, INSERT, DELETE = "equal", "insert", "delete"

_TOKENS = re.compile(r"\s+|\S+")


def tokens(text: str) -> list[str]:
    """Words and the whitespace runs between them; ``"".join(tokens(t)) == t``."""
    return _TOKENS.findall(text.replace("\r\n", "\n"))


@dataclass(frozen=True)
class Segment:
    kind: str  # EQUAL, INSERT or DELETE
    text: str

    @property
    def is_insert(self) -> bool:
        return self.kind == INSERT

    @property
    def is_delete(self) -> bool:
        return self.kind == DELETE


@dataclass(frozen=True)
class TextDiff:
    segments: tuple[Segment, ...]
    inserted_words: int
    deleted_words: int

    @property
    def changed(self) -> bool:
        return bool(self.inserted_words or self.deleted_words)


def _words(parts: list[str]) -> int:
    return sum(1 for part in parts if not part.isspace())


def word_diff(old: str, new: str) -> TextDiff:
    """The segments that turn `old` into `new`. Changes separated only by whitespace are one
    change (its deletion, then its insertion), so a reworded phrase reads as a whole."""
    a, b = tokens(old), tokens(new)
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    segments: list[Segment] = []
    inserted = deleted = 0
    removed: list[str] = []
    added: list[str] = []

    def add(kind: str, text: str) -> None:
        if text:
            segments.append(Segment(kind, text))

    def flush() -> None:
        nonlocal inserted, deleted
        deleted += _words(removed)
        inserted += _words(added)
        add(DELETE, "".join(removed))
        add(INSERT, "".join(added))
        removed.clear()
        added.clear()

    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        inside = 0 < index < len(opcodes) - 1
        if op == "equal" and not (inside and "".join(a[i1:i2]).isspace()):
            flush()
            add(EQUAL, "".join(a[i1:i2]))
            continue
        removed.extend(a[i1:i2])
        added.extend(b[j1:j2])
    flush()
    return TextDiff(tuple(segments), inserted, deleted)
