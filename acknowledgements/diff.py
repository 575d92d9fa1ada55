"""What changed between two texts: pure functions, no database.

`word_diff`: the texts are split into words and the whitespace between them (kept as tokens,
so the result joined back gives each text exactly), compared with `difflib.SequenceMatcher`,
and returned as segments: unchanged, inserted or deleted. A replaced run of words becomes its
deletion followed by its insertion.

`paragraph_diff` (the «Что изменилось» page, the reader's block on the regulation page): the
Markdown texts are compared paragraph by paragraph (blocks between blank lines), and only the
changed paragraphs are kept, each rendered by the portal's Markdown renderer
(`cdt_portal.markup`, raw HTML off) and then compared word by word *as rendered*: the
words of the rendered paragraphs (tags apart) are matched, the deleted words are put in
`<del>`, the inserted ones in `<ins>`. The result holds only the renderer's own (escaped)
output and those two tags, each around a run of text between two of the renderer's tags, so
it is as safe and as well nested as the rendered new paragraph; the old paragraph's tags are
dropped (its words are shown inside the new paragraph's structure).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from html import unescape

from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe

from cdt_portal.markup import render_markdown
from cdt_portal.plural import plural

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


# --- paragraph by paragraph, rendered ---------------------------------------------------------

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# The renderer's output: a tag (its attribute values are escaped, so no «>» inside), a run of
# whitespace, or a word (text is escaped, so no «<» in it).
_HTML_TOKENS = re.compile(r"<[^>]*>|\s+|[^<\s]+")
_HEADING = re.compile(r"^#{1,6}\s")
# Replaced blocks of paragraphs are paired by likeness only while that stays cheap.
_ALIGN_LIMIT = 400
_ALIKE = 0.5

CHANGED, ADDED, REMOVED = "changed", "added", "removed"

# The portal's renderer itself, past its cache: the cache keeps whole texts (the regulation),
# which a diff's paragraphs would push out.
_render = render_markdown.__wrapped__


def paragraphs(text: str) -> list[str]:
    """The text's blocks between blank lines, without the blank lines."""
    text = (text or "").replace("\r\n", "\n")
    return [block.strip("\n") for block in _BLANK_LINE.split(text) if block.strip()]


@dataclass(frozen=True)
class ChangedParagraph:
    kind: str  # CHANGED, ADDED or REMOVED
    html: SafeString  # the rendered paragraph with its <del> and <ins>
    section: str  # the heading above it (plain text, to be escaped), or ""


@dataclass(frozen=True)
class ParagraphDiff:
    title: tuple[Segment, ...] | None  # the title's word diff, when the title changed
    paragraphs: tuple[ChangedParagraph, ...]
    total: int  # paragraphs in the new text
    inserted_words: int
    deleted_words: int

    @property
    def changed(self) -> bool:
        return bool(self.paragraphs or self.title)

    @property
    def summary(self) -> str:
        """«изменён 1 абзац из 40», «изменено 3 абзаца из 40», «изменено 5 абзацев из 40»."""
        count = len(self.paragraphs)
        verb = plural(count, "изменён", "изменено", "изменено")
        return f"{verb} {count} {plural(count, 'абзац', 'абзаца', 'абзацев')} из {self.total}"


def _is_tag(token: str) -> bool:
    return token.startswith("<")


def _is_word(token: str) -> bool:
    return not _is_tag(token) and not token.isspace()


def _marked(tokens_: list[str], tag: str) -> tuple[list[str], int]:
    """The tokens with each run of text between two tags that holds a word put in `tag`
    (its edge whitespace left outside); the words counted."""
    out: list[str] = []
    run: list[str] = []
    words = 0

    def flush() -> None:
        start, end = 0, len(run)
        while start < end and run[start].isspace():
            start += 1
        while end > start and run[end - 1].isspace():
            end -= 1
        if start < end:
            out.extend(run[:start])
            out.append(f'<{tag} class="diff-{tag}">{"".join(run[start:end])}</{tag}>')
            out.extend(run[end:])
        else:
            out.extend(run)
        run.clear()

    for token in tokens_:
        if _is_tag(token):
            flush()
            out.append(token)
        else:
            run.append(token)
            words += _is_word(token)
    flush()
    return out, words


def _compare_rendered(old_html: str, new_html: str) -> tuple[str, int, int]:
    """The new rendered paragraph with the old one's deleted words in <del> and its own
    inserted words in <ins>: (html, inserted words, deleted words). As in `word_diff`,
    changes separated only by whitespace are one change."""
    a, b = _HTML_TOKENS.findall(old_html), _HTML_TOKENS.findall(new_html)
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    out: list[str] = []
    removed: list[str] = []
    added: list[str] = []
    inserted = deleted = 0

    def flush() -> None:
        nonlocal inserted, deleted
        # The old paragraph's tags are dropped: its words go into the new one's structure.
        gone, count = _marked([t for t in removed if not _is_tag(t)], "del")
        out.extend(gone)
        deleted += count
        new, count = _marked(added, "ins")
        out.extend(new)
        inserted += count
        removed.clear()
        added.clear()

    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        inside = 0 < index < len(opcodes) - 1
        if op == "equal" and not (inside and all(t.isspace() for t in a[i1:i2])):
            flush()
            out.extend(a[i1:i2])
            continue
        removed.extend(a[i1:i2])
        added.extend(b[j1:j2])
    flush()
    return "".join(out), inserted, deleted


def _alike(old: str, new: str) -> float:
    matcher = difflib.SequenceMatcher(None, old.split(), new.split(), autojunk=False)
    return matcher.ratio() if matcher.real_quick_ratio() > _ALIKE else 0.0


def _pairs(old: list[str], new: list[str]) -> list[tuple[str | None, str | None]]:
    """A replaced block's paragraphs paired: each new one with the likeliest old one after the
    last paired (a paragraph added before an edited one is not taken for its edit); the rest
    removed or added. A large block is paired in order."""
    if len(old) * len(new) > _ALIGN_LIMIT:
        count = max(len(old), len(new))
        return [
            (old[k] if k < len(old) else None, new[k] if k < len(new) else None)
            for k in range(count)
        ]
    pairs: list[tuple[str | None, str | None]] = []
    start = 0
    for paragraph in new:
        best, best_ratio = None, _ALIKE
        for k in range(start, len(old)):
            ratio = _alike(old[k], paragraph)
            if ratio > best_ratio:
                best, best_ratio = k, ratio
        if best is None:
            pairs.append((None, paragraph))
            continue
        pairs.extend((gone, None) for gone in old[start:best])
        pairs.append((old[best], paragraph))
        start = best + 1
    pairs.extend((gone, None) for gone in old[start:])
    return pairs


def _heading_text(paragraph: str) -> str:
    return unescape(strip_tags(_render(paragraph))).strip()


def paragraph_diff(
    old: str, new: str, *, old_title: str = "", new_title: str = ""
) -> ParagraphDiff:
    """Only the paragraphs of `new` that differ from `old` (and those `old` had and `new` has
    not), rendered, with their words struck and inserted; the title's words when it changed."""
    a, b = paragraphs(old), paragraphs(new)
    changed: list[ChangedParagraph] = []
    inserted = deleted = 0
    section = ""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for paragraph in b[j1:j2]:
                if _HEADING.match(paragraph):
                    section = _heading_text(paragraph)
            continue
        for before, after in _pairs(a[i1:i2], b[j1:j2]):
            if after is not None and before is not None:
                html, ins, dels = _compare_rendered(_render(before), _render(after))
                kind = CHANGED
            elif after is not None:
                tokens_, ins = _marked(_HTML_TOKENS.findall(_render(after)), "ins")
                html, dels, kind = "".join(tokens_), 0, ADDED
            else:
                tokens_, dels = _marked(_HTML_TOKENS.findall(_render(before)), "del")
                html, ins, kind = "".join(tokens_), 0, REMOVED
            inserted, deleted = inserted + ins, deleted + dels
            # A changed heading is its own section; the renderer escaped every word of `html`.
            if after is not None and _HEADING.match(after):
                section = _heading_text(after)
                changed.append(ChangedParagraph(kind, mark_safe(html), ""))
            else:
                changed.append(ChangedParagraph(kind, mark_safe(html), section))
    title = None
    if old_title != new_title:
        title_diff = word_diff(old_title, new_title)
        title = title_diff.segments
        inserted += title_diff.inserted_words
        deleted += title_diff.deleted_words
    return ParagraphDiff(title, tuple(changed), len(b), inserted, deleted)
