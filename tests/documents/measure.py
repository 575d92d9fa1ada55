"""Measuring a rendered PDF: its words (poppler), its ruling lines and its font sizes (pypdf).

Every position is in points from the page's top left, as `tests.helpers.pdf_words` gives it.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from tests.helpers import Word, pdf_reader

MM = 72 / 25.4  # points in a millimetre
A4_WIDTH, A4_HEIGHT = 595.28, 841.89


def mm(points: float) -> float:
    return points / MM


@dataclass(frozen=True)
class Segment:
    """A stroked straight line on a page (a table border, a rule)."""

    x0: float
    y0: float
    x1: float
    y1: float
    width: float  # line width in points

    @property
    def vertical(self) -> bool:
        return abs(self.x0 - self.x1) < 0.01 and abs(self.y0 - self.y1) > 0.01

    @property
    def horizontal(self) -> bool:
        return abs(self.y0 - self.y1) < 0.01 and abs(self.x0 - self.x1) > 0.01


@dataclass(frozen=True)
class Box:
    """A rectangle painted (`re … f`) or painted through (`re … W n`, how WeasyPrint draws the
    dashes of a dashed border: it clips to one small rectangle per dash, then fills)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Drawing:
    """What a page draws besides text."""

    lines: list[Segment]
    boxes: list[Box]

    def verticals(self) -> list[float]:
        """The distinct x of the vertical lines, left to right."""
        return _distinct(line.x0 for line in self.lines if line.vertical)

    def horizontals(self) -> list[float]:
        """The distinct y of the horizontal lines, top to bottom."""
        return _distinct(line.y0 for line in self.lines if line.horizontal)

    def dashed_lines(self, *, min_dashes: int = 10) -> list[tuple[float, float, float]]:
        """Dashed horizontal lines as `(y, x_from, x_to)`: rows of at least `min_dashes` thin
        boxes (WeasyPrint paints a dashed border as one small rectangle per dash)."""
        rows: dict[float, list[Box]] = {}
        for box in self.boxes:
            height, width = box.y1 - box.y0, box.x1 - box.x0
            if height < 1.5 and width > 2 * height:
                rows.setdefault(round(box.y0, 1), []).append(box)
        return sorted(
            (y, min(b.x0 for b in dashes), max(b.x1 for b in dashes))
            for y, dashes in rows.items()
            if len(dashes) >= min_dashes
        )


def _distinct(values: Iterable[float], tolerance: float = 0.05) -> list[float]:
    found: list[float] = []
    for value in sorted(values):
        if not found or value - found[-1] > tolerance:
            found.append(value)
    return found


@dataclass(frozen=True)
class TextRun:
    """A piece of text as the content stream shows it, with its size on the page."""

    text: str
    size: float  # points
    x: float  # the run's origin: left end of its baseline
    y: float


def _multiply(m, n):
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _apply(matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = matrix
    return a * x + c * y + e, b * x + d * y + f


def _scale(matrix) -> float:
    """How much the matrix scales a length (the mean of its axes' scales)."""
    a, b, c, d, _, _ = matrix
    return math.sqrt(abs(a * d - b * c))


_PAINT = (b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*")
_STROKE = (b"S", b"s", b"B", b"B*", b"b", b"b*")


class _Painter:
    """Follows one page's path operators (through pypdf's visitor) and keeps what is painted."""

    def __init__(self, height: float):
        self.height = height
        self.lines: list[Segment] = []
        self.boxes: list[Box] = []
        self.path: list[tuple[tuple[float, float], tuple[float, float]]] = []
        self.rects: list[Box] = []
        self.point: tuple[float, float] | None = None
        self.width = 1.0
        self.matrix = None
        self.clip = False

    def top_left(self, matrix, x, y) -> tuple[float, float]:
        px, py = _apply(matrix, float(x), float(y))
        return px, self.height - py

    def __call__(self, operator, operands, cm, tm) -> None:
        if operator == b"w":
            self.width = float(operands[0])
        elif operator == b"m":
            self.point, self.matrix = self.top_left(cm, *operands[:2]), cm
        elif operator == b"l" and self.point is not None:
            end = self.top_left(cm, *operands[:2])
            self.path.append((self.point, end))
            self.point, self.matrix = end, cm
        elif operator == b"re":
            x, y, w, h = (float(v) for v in operands)
            (ax, ay), (bx, by) = self.top_left(cm, x, y), self.top_left(cm, x + w, y + h)
            self.rects.append(Box(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)))
        elif operator in (b"W", b"W*"):
            self.clip = True
        elif operator in _PAINT or operator == b"n":
            if operator != b"n" or self.clip:  # `re … W n` paints through the rectangles
                self.boxes.extend(self.rects)
            if operator in _STROKE:
                width = self.width * _scale(self.matrix or cm)
                for (x0, y0), (x1, y1) in self.path:
                    self.lines.append(
                        Segment(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), width)
                    )
            self.path.clear()
            self.rects.clear()
            self.point, self.clip = None, False


def drawings(data: bytes) -> list[Drawing]:
    """Every page's stroked straight lines (`m … l … S`) and painted rectangles (`re`)."""
    pages = []
    for page in pdf_reader(data).pages:
        painter = _Painter(float(page.mediabox.height))
        page.extract_text(visitor_operand_before=painter)
        pages.append(Drawing(painter.lines, painter.boxes))
    return pages


def text_runs(data: bytes) -> list[list[TextRun]]:
    """Every page's pieces of text with their font size as printed (the `Tf` size scaled by
    the text and graphics matrices)."""
    pages = []
    for page in pdf_reader(data).pages:
        height = float(page.mediabox.height)
        runs: list[TextRun] = []

        def visit(text, cm, tm, font, size, runs=runs, height=height):
            if not text.strip():
                return
            matrix = _multiply(tm, cm)
            x, y = matrix[4], matrix[5]
            runs.append(TextRun(text, round(size * _scale(matrix), 2), x, height - y))

        page.extract_text(visitor_text=visit)
        pages.append(runs)
    return pages


def lines_of(words: Iterable[Word], *, tolerance: float = 1.0) -> list[list[Word]]:
    """Words grouped into printed lines (the same top within `tolerance`), top to bottom,
    each line left to right."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.y0, w.x0)):
        if lines and abs(lines[-1][0].y0 - word.y0) <= tolerance:
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def line_text(line: list[Word]) -> str:
    return " ".join(word.text for word in line)


def find_words(words: list[Word], phrase: str) -> list[Word] | None:
    """The first run of consecutive words (in reading order) that spells `phrase`."""
    wanted = phrase.split()
    for start in range(len(words) - len(wanted) + 1):
        if [w.text for w in words[start : start + len(wanted)]] == wanted:
            return words[start : start + len(wanted)]
    return None


# --- finding a text's words on the pages ---------------------------------------------------------

HYPHEN = "\u2010"  # what WeasyPrint prints where it hyphenates a word at a line's end


@dataclass(frozen=True)
class Placed:
    page: int  # 0-based
    word: Word

    @property
    def text(self) -> str:
        return html.unescape(self.word.text)


def reading_order(pages: list[list[Word]], *, below: float = 20 * MM) -> list[Placed]:
    """Every word of the text area in reading order: page by page, line by line. Words above
    the top margin (the page numbers) are left out."""
    found = []
    for number, words in enumerate(pages):
        for line in lines_of([w for w in words if w.y0 >= below - 0.5]):
            found.extend(Placed(number, word) for word in line)
    return found


class TextFinder:
    """Finds a source text's words among the placed words, ignoring spaces and the hyphens
    WeasyPrint adds at line ends; each search starts where the previous one ended."""

    def __init__(self, placed: list[Placed]):
        self.placed = placed
        chars: list[str] = []
        owners: list[int] = []
        for index, item in enumerate(placed):
            text = item.text.removesuffix(HYPHEN)
            chars.extend(text)
            owners.extend([index] * len(text))
        self.chars = "".join(chars)
        self.owners = owners
        self.cursor = 0

    def find(self, text: str) -> list[Placed]:
        needle = "".join(text.split())
        start = self.chars.find(needle, self.cursor)
        assert start >= 0, f"not in the PDF (after character {self.cursor}): {text[:80]!r}"
        end = start + len(needle)
        self.cursor = end
        first, last = self.owners[start], self.owners[end - 1]
        return self.placed[first : last + 1]


def placed_lines(placed: list[Placed]) -> list[list[Placed]]:
    """Placed words (in reading order) cut into their printed lines."""
    lines: list[list[Placed]] = []
    for item in placed:
        last = lines[-1][-1] if lines else None
        if last and last.page == item.page and abs(last.word.y0 - item.word.y0) <= 1.0:
            lines[-1].append(item)
        else:
            lines.append([item])
    return lines


# --- a ruled table -------------------------------------------------------------------------------


@dataclass
class Cell:
    """The inside of a ruled table's cell (between its borders' inner edges) and the words
    that start in it."""

    x0: float
    y0: float
    x1: float
    y1: float
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(html.unescape(w.text) for w in self.words)


def table_rows(drawing: Drawing, words: list[Word]) -> list[list[Cell]]:
    """The rows of the ruled table on a page, top to bottom, each a list of its cells left to
    right. A word belongs to the cell it starts in; a word that runs past the cell's right
    border still belongs to it, so a test can see it cross."""
    half = max((line.width for line in drawing.lines), default=0) / 2
    xs, ys = drawing.verticals(), drawing.horizontals()
    rows = []
    for top, bottom in itertools.pairwise(ys):
        cells = [
            Cell(left + half, top + half, right - half, bottom - half, [])
            for left, right in itertools.pairwise(xs)
        ]
        for word in words:
            middle = (word.y0 + word.y1) / 2
            if not top < middle < bottom:
                continue
            starts_in = [cell for cell in cells if cell.x0 - 2 * half <= word.x0] or cells[:1]
            starts_in[-1].words.append(word)
        rows.append(cells)
    return rows
