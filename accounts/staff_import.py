"""Staff import: read a CSV or XLSX list of staff and preview what an import would do.

Nothing here writes to the database (`services.import_upload` and `services.import_apply_run` do).
`preview_staff_import` sorts the file's rows into people to add, people the organisation
already has (so a file loaded twice adds nobody twice) and rows with errors, each error a
Russian sentence for the person who made the file; a file that can't be read at all is a
`PortalError` saying why.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import openpyxl
import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from phonenumber_field.phonenumber import PhoneNumber
from phonenumbers import NumberParseException

from cdt_portal.errors import PortalError

from .models import User
from .validators import RUSSIAN_MOBILE_EXAMPLE, validate_russian_mobile

MAX_ROWS = 10_000
# The header may sit under a title («Список педагогических работников…»): look this far down.
HEADER_SEARCH_ROWS = 10
# XLSX limits (a zip bomb guard) are settings: IMPORT_MAX_UNPACKED_BYTES,
# IMPORT_MAX_COMPRESSION_RATIO, IMPORT_MAX_ROWS, IMPORT_MAX_COLUMNS, IMPORT_MAX_SECONDS.
# Measured: 20 000 rows of six columns unpack to 9 MB at a ratio of 17.

NAME_MAX = 150  # User.last_name / first_name / patronymic
POSITION_MAX = 300  # User.position
EMAIL_MAX = 254  # EmailField

NOT_A_TABLE = (
    "Файл не похож на таблицу CSV или XLSX. Сохраните список в Excel как «Книга Excel (*.xlsx)» "
    "или «CSV (разделители — точка с запятой)» и загрузите снова."
)
OLD_OFFICE = (
    "Это файл старого формата Microsoft Office (.xls или .doc) или файл, защищённый паролем. "
    "Откройте его в Excel, сохраните как «Книга Excel (*.xlsx)» или CSV без пароля "
    "и загрузите снова."
)
OPENDOCUMENT = (
    "Это таблица OpenDocument (.ods). Сохраните её как «Книга Excel (*.xlsx)» или CSV "
    "и загрузите снова."
)
BROKEN_XLSX = "Не удалось прочитать файл XLSX: он повреждён. Сохраните его в Excel заново."
XLSX_TOO_BIG = (
    "Файл XLSX слишком большой для списка сотрудников: в распакованном виде он занимает "
    "слишком много места или читается слишком долго. Оставьте в книге один лист со списком "
    "и загрузите снова."
)
EMPTY_FILE = "Файл пустой."
NO_DATA = "В файле нет ни одной строки с данными — только заголовок."
EXPECTED_COLUMNS = (
    "Нужен столбец «Ф.И.О.» или столбцы «Фамилия», «Имя», «Отчество», их названия — в первой "
    "строке таблицы. Необязательные столбцы: «Должность», «E-mail», «Телефон»."
)
NO_NAME_COLUMNS = "В таблице не нашлось столбцов с фамилией и именем. " + EXPECTED_COLUMNS
FORMULA = "Формула в ячейке не допускается"

# Header names, normalised by _header_key: lower case, ё → е, no spaces or punctuation.
_FULL_NAME, _LAST, _FIRST, _PATRONYMIC = "full_name", "last_name", "first_name", "patronymic"
_POSITION, _EMAIL, _PHONE = "position", "email", "phone"
_HEADER_ALIASES = {
    _FULL_NAME: {"фио", "фамилия,имя,отчество", "фамилияимяотчество"},
    _LAST: {"фамилия"},
    _FIRST: {"имя"},
    _PATRONYMIC: {"отчество", "отчествоприналичии"},
    _POSITION: {"должность"},
    # «Е-mail» is often typed with a Cyrillic Е.
    _EMAIL: {"email", "еmail", "элпочта", "электроннаяпочта", "адресэлектроннойпочты", "почта"},
    _PHONE: {
        "телефон", "мобильныйтелефон", "мобтелефон", "телефонмобильный", "сотовыйтелефон",
        "номертелефона", "номермобильноготелефона",
    },
}  # fmt: skip
_HEADER_FIELDS = {alias: name for name, aliases in _HEADER_ALIASES.items() for alias in aliases}
_LABELS = {
    _FULL_NAME: "Ф.И.О.",
    _LAST: "Фамилия",
    _FIRST: "Имя",
    _PATRONYMIC: "Отчество",
    _POSITION: "Должность",
    _EMAIL: "E-mail",
    _PHONE: "Телефон",
}

_FORMULA_STARTS = ("=", "+", "-", "@")
_PHONE_CHARS = frozenset("0123456789+-() .")
_DASHES = frozenset({"-", "—", "–", "--"})  # «нет» in a Russian table, not a formula
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@dataclass
class ImportRow:
    line: int  # the row number Excel shows; the header is line 1 when it is the first row
    last_name: str
    first_name: str
    patronymic: str
    position: str
    email: str  # lower case, "" if absent
    phone: str  # E.164 ("+79123456789") or ""; as written in the file if it is invalid
    errors: list[str] = field(default_factory=list)
    existing_id: int | None = None  # the organisation's person this row is

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p)


@dataclass
class ImportPreview:
    to_add: list[ImportRow]
    matches: list[ImportRow]
    errors: list[ImportRow]

    @property
    def total(self) -> int:
        return len(self.to_add) + len(self.matches) + len(self.errors)


@dataclass
class _Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line, cells) after the header, empty rows left out


# --- Reading the file ------------------------------------------------------------------


def _read(content: bytes) -> _Table:
    # The format is told by the content, never by the file's name: Excel users rename files.
    if not content.strip() or content.strip() == codecs.BOM_UTF8:
        raise PortalError(EMPTY_FILE)
    if content.startswith(b"PK\x03\x04"):
        lines = _xlsx_lines(content)
    elif content.startswith(b"\xd0\xcf\x11\xe0"):  # OLE: .xls, .doc, encrypted .xlsx
        raise PortalError(OLD_OFFICE)
    else:
        lines = _csv_lines(_decode(content))

    rows = [(line, cells) for line, cells in lines if any(cells)]
    if not rows:
        raise PortalError(EMPTY_FILE)
    header_at = next(
        (n for n, (_line, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]) if _known_fields(cells)),
        0,
    )
    return _Table(header=rows[header_at][1], rows=rows[header_at + 1 :])


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1251, as Russian Excel saves CSV."""
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
        break
    raise PortalError(NOT_A_TABLE)


def _looks_like_text(text: str) -> bool:
    """Binary files decode as Windows-1251 too; they give themselves away by control bytes."""
    sample = text[:8192]
    if "\x00" in sample or sample.startswith("%PDF"):
        return False
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    return controls <= len(sample) // 200


def _csv_lines(text: str) -> list[tuple[int, list[str]]]:
    delimiter = _delimiter(text)
    # tablib skips blank lines and refuses rows longer than the first one, so a first pass
    # finds each record's row number (what Excel would show) and the widest row.
    records = []
    header_end = 0  # physical line where the first non-blank record ends
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for number, record in enumerate(reader, 1):
            if record:
                records.append((number, len(record)))
                header_end = header_end or reader.line_num
    except csv.Error as exc:
        raise PortalError(NOT_A_TABLE) from exc
    if not records:
        raise PortalError(EMPTY_FILE)
    pad = max(width for _number, width in records) - records[0][1]

    def physical_lines() -> Iterator[str]:
        for n, line in enumerate(io.StringIO(text, newline=""), 1):
            if n == header_end and pad:
                body = line.rstrip("\r\n")
                line = body + delimiter * pad + line[len(body) :]
            yield line

    try:
        dataset = tablib.Dataset().load(
            physical_lines(), format="csv", headers=False, delimiter=delimiter
        )
    except (csv.Error, tablib.InvalidDimensions) as exc:
        raise PortalError(NOT_A_TABLE) from exc
    return [
        (number, [_clean(cell) for cell in row])
        for (number, _width), row in zip(records, dataset.dict, strict=True)
    ]


def _delimiter(text: str) -> str:
    """`;` or `,`, judged on the first lines.

    The right one names some of the columns we know in the header row and cuts the rows
    below it into no more cells than most of them have (a header split wider than its rows
    means the «,» in «Фамилия, имя, отчество» was taken for a separator); then the one that
    names more columns, then the one that leaves fewer unknown header cells, then `;`.
    Without a header we know, the one that cuts more cells, so «;;;» reads as empty.
    """
    sample = "\n".join(text.splitlines()[: HEADER_SEARCH_ROWS * 2])

    def score(delimiter: str) -> tuple[bool, float, int, int, bool]:
        records: list[list[str]] = []
        widest = 0
        try:
            for record in csv.reader(io.StringIO(sample), delimiter=delimiter):
                widest = max(widest, len(record))
                if any(cell.strip() for cell in record):
                    records.append([_clean(cell) for cell in record])
        except csv.Error:
            pass  # the sample may end inside a quoted cell
        known = [len(_known_fields(r)) for r in records[:HEADER_SEARCH_ROWS]]
        if not any(known):  # no header we know: the file is refused, empty or not
            return (False, 0.0, 0, widest, delimiter == ";")
        at = known.index(max(known))
        others = [len(r) for n, r in enumerate(records) if n != at]
        usual = Counter(others).most_common(1)[0][0] if others else len(records[at])
        fitting = sum(1 for r in records if len(r) <= usual) / len(records)
        unknown = sum(1 for cell in records[at] if cell) - known[at]
        return (known[at] > 0, fitting, known[at], -unknown, delimiter == ";")

    return max(";,", key=score)


def _import_limit(name: str, default):
    return getattr(settings, name, default)


def _check_archive(content: bytes) -> set[str]:
    """Look at the zip's directory before anything is unpacked: the names, and the sizes it
    declares. Python's zipfile never yields more than a member's declared size (a member that
    unpacks to more fails its CRC), so these numbers bound the work. An XLSX bomb (a sheet of
    a million cells packed into a few hundred kilobytes) is refused here in milliseconds."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            names = {info.filename for info in members}
            mimetype = archive.read("mimetype") if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise PortalError(NOT_A_TABLE) from exc
    if "xl/workbook.xml" not in names:
        if b"opendocument.spreadsheet" in mimetype:
            raise PortalError(OPENDOCUMENT)
        raise PortalError(NOT_A_TABLE)
    unpacked = sum(info.file_size for info in members)
    max_ratio = _import_limit("IMPORT_MAX_COMPRESSION_RATIO", 100)
    if unpacked > _import_limit("IMPORT_MAX_UNPACKED_BYTES", 10 * 1024 * 1024):
        raise PortalError(XLSX_TOO_BIG)
    for info in members:
        # Small parts (styles, a theme) may pack tighter; only a large one can hurt.
        if info.file_size > 1024 * 1024 and info.file_size > max_ratio * max(info.compress_size, 1):
            raise PortalError(XLSX_TOO_BIG)
    return names


class _Limits:
    """Row, cell and time limits while the first sheet is streamed: openpyxl's read-only mode
    parses one row at a time, so the work stops as soon as a limit is passed."""

    def __init__(self) -> None:
        self.rows = _import_limit("IMPORT_MAX_ROWS", 20_000)
        self.columns = _import_limit("IMPORT_MAX_COLUMNS", 50)
        self.cells = self.rows * self.columns
        self.deadline = time.monotonic() + _import_limit("IMPORT_MAX_SECONDS", 5)

    def check(self, number: int, row: tuple, cells_so_far: int) -> None:
        if number > self.rows:
            raise PortalError(
                f"Слишком много строк: больше {_thousands(self.rows)}. "
                "Разделите список на несколько файлов."
            )
        last = max((i for i, v in enumerate(row) if v is not None and v != ""), default=-1)
        if last >= self.columns:
            raise PortalError(
                f"Слишком много столбцов: данные есть в {last + 1}-м столбце, а можно не больше "
                f"{self.columns}. Удалите лишние столбцы и загрузите снова."
            )
        if cells_so_far > self.cells or time.monotonic() > self.deadline:
            raise PortalError(XLSX_TOO_BIG)


# openpyxl's read-only sheet looks for the sheet's <dimension> when it is opened; a file without
# one makes it parse the whole sheet before the first row is handed over, outside the limits
# below. The dimensions are reset and never used here, so that look is skipped. The class
# attribute is swapped under a lock for the length of one load (imports are rare).
_DIMENSION_SCAN_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_dimension_scan():
    with _DIMENSION_SCAN_LOCK:
        original = ReadOnlyWorksheet._get_size
        ReadOnlyWorksheet._get_size = lambda self: None
        try:
            yield
        finally:
            ReadOnlyWorksheet._get_size = original


def _xlsx_lines(content: bytes) -> list[tuple[int, list[str]]]:
    _check_archive(content)
    limits = _Limits()
    try:
        # Read-only (streaming) mode. Its sheet dimensions come from the file and would pad
        # every row and add empty rows up to whatever the file declares (a million), so they
        # are reset and each row is as long as its own cells. The *first* sheet is read, as
        # people expect, whichever one was active when the file was saved.
        with _without_dimension_scan():
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except PortalError:
        raise
    except Exception as exc:  # openpyxl raises anything from KeyError to its own errors
        raise PortalError(BROKEN_XLSX) from exc
    try:
        if not book.worksheets:
            raise PortalError(EMPTY_FILE)
        sheet = book.worksheets[0]
        if not hasattr(sheet, "reset_dimensions"):  # a chart sheet: no cells
            raise PortalError(EMPTY_FILE)
        sheet.reset_dimensions()
        lines = []
        cells = 0
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            cells += len(row)
            limits.check(number, row, cells)
            lines.append((number, [_clean(_cell_text(cell)) for cell in row[: limits.columns]]))
        return lines
    except PortalError:
        raise
    except Exception as exc:
        raise PortalError(BROKEN_XLSX) from exc
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ИСТИНА" if value else "ЛОЖЬ"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number: 89123456789.0
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def _clean(value: str) -> str:
    """No invisible characters, no edge spaces, single inner spaces (non-breaking ones too)."""
    return " ".join(value.translate(_INVISIBLE).split())


def _at(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


# --- Columns ---------------------------------------------------------------------------


def _header_key(name: str) -> str:
    """«Ф. И. О.», «ф.и.о.», «Е-mail*» → «фио», «еmail»: no case, ё as е, no punctuation.

    Separators stay, so that a header read with the wrong one («Фамилия;Имя;Отчество»,
    «№,ФИО») names nothing.
    """
    name = name.lower().replace("ё", "е")
    return "".join(ch for ch in name if ch.isalnum() or ch in ";,")


def _known_fields(cells: list[str]) -> dict[str, int]:
    """Field name → column index for the header cells we know; the first of twins wins."""
    fields: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _HEADER_FIELDS.get(_header_key(cell))
        if name and name not in fields:
            fields[name] = index
    return fields


def _columns(header: list[str]) -> dict[str, int]:
    columns = _known_fields(header)
    if _LAST in columns or _FIRST in columns:
        missing = [_LABELS[f] for f in (_LAST, _FIRST) if f not in columns]
        if missing and _FULL_NAME not in columns:
            raise PortalError(f"В таблице нет столбца «{missing[0]}». {EXPECTED_COLUMNS}")
        if not missing:
            columns.pop(_FULL_NAME, None)  # separate columns win over a Ф.И.О. column
        else:
            columns.pop(_LAST, None)
            columns.pop(_FIRST, None)
            columns.pop(_PATRONYMIC, None)
    if _FULL_NAME not in columns and _LAST not in columns:
        raise PortalError(NO_NAME_COLUMNS)
    return columns


# --- The preview -----------------------------------------------------------------------


def preview_staff_import(
    *,
    organisation,
    content: bytes,
    max_rows: int = MAX_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> ImportPreview:
    """Sort the file's people into to add / already there / with errors. Writes nothing.
    `progress(done, total)` is told every PROGRESS_EVERY rows (the parse job's progress bar)."""
    table = _read(content)
    columns = _columns(table.header)
    rows = []
    for line, cells in table.rows:
        values = {name: _at(cells, i) for name, i in columns.items()}
        if any(values.values()):  # a row with only, say, «№» filled in is an empty row
            rows.append((line, values))
    if not rows:
        raise PortalError(NO_DATA)
    if len(rows) > max_rows:
        raise PortalError(
            f"Слишком много строк: {_thousands(len(rows))}. "
            f"Можно загрузить не больше {_thousands(max_rows)} за раз."
        )

    known = _Known.load(organisation)
    first_seen: dict[tuple[str, ...], int] = {}
    preview = ImportPreview(to_add=[], matches=[], errors=[])
    total = len(rows)
    for done, (line, values) in enumerate(rows, start=1):
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total)
        row = _parse_row(line, values)
        _check_against_file(row, first_seen)
        _check_against_database(row, known)
        if row.errors:
            preview.errors.append(row)
        elif row.existing_id is not None:
            preview.matches.append(row)
        else:
            preview.to_add.append(row)
    return preview


PROGRESS_EVERY = 500
# What the preview page lists; the counts are always whole.
STORED_TO_ADD = 500
STORED_MATCHES = 200
STORED_ERRORS = 1000


def _row_dict(row: ImportRow) -> dict:
    # The name as it will be split into the three fields, so the administrator sees a wrong
    # split («Алиев / Рашид / Мамед оглы», «Ким / Ен / Сун») before confirming.
    return {
        "line": row.line,
        "full_name": row.full_name,
        "last_name": row.last_name,
        "first_name": row.first_name,
        "patronymic": row.patronymic,
        "position": row.position,
        "email": row.email,
        "phone": row.phone,
        "errors": row.errors,
    }


def stored_preview(preview: ImportPreview) -> dict:
    """The preview as the batch keeps it (JSON): counts, and the rows the page lists."""
    return {
        "to_add": len(preview.to_add),
        "matches": len(preview.matches),
        "errors": len(preview.errors),
        "to_add_rows": [_row_dict(r) for r in preview.to_add[:STORED_TO_ADD]],
        "match_rows": [_row_dict(r) for r in preview.matches[:STORED_MATCHES]],
        "error_rows": [_row_dict(r) for r in preview.errors[:STORED_ERRORS]],
    }


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _parse_row(line: int, values: dict[str, str]) -> ImportRow:
    errors: list[str] = []
    formulas: set[str] = set()
    for name, value in list(values.items()):
        if value in _DASHES:
            values[name] = ""
        elif _is_formula(name, value):
            formulas.add(name)
            errors.append(f"{FORMULA} («{_LABELS[name]}»)")

    if _FULL_NAME in values:
        # Фамилия Имя Отчество; a fourth word and on belong to the patronymic (… Гасан Оглы).
        words = values[_FULL_NAME].split(" ") if _FULL_NAME not in formulas else []
        last = words[0] if words else values[_FULL_NAME]
        first = words[1] if len(words) > 1 else ""
        patronymic = " ".join(words[2:])
    else:
        last, first = values.get(_LAST, ""), values.get(_FIRST, "")
        patronymic = values.get(_PATRONYMIC, "")

    row = ImportRow(
        line=line,
        last_name=last,
        first_name=first,
        patronymic=patronymic,
        position=values.get(_POSITION, ""),
        email=values.get(_EMAIL, "").lower(),
        phone=values.get(_PHONE, ""),
        errors=errors,
    )
    name_formula = bool(formulas & {_FULL_NAME, _LAST, _FIRST, _PATRONYMIC})
    if not row.last_name and not name_formula:
        errors.append("Нет фамилии")
    if not row.first_name and not name_formula:
        errors.append("Нет имени")
    for label, value, limit in (
        ("Фамилия", row.last_name, NAME_MAX),
        ("Имя", row.first_name, NAME_MAX),
        ("Отчество", row.patronymic, NAME_MAX),
        ("Должность", row.position, POSITION_MAX),
    ):
        if len(value) > limit:
            errors.append(f"{label} длиннее {limit} символов")
    if row.email and _EMAIL not in formulas:
        try:
            if len(row.email) > EMAIL_MAX:
                raise ValidationError("too long")
            validate_email(row.email)
        except ValidationError:
            errors.append(f"Неверный e-mail «{row.email}»")
    if row.phone and _PHONE not in formulas:
        phone = _russian_mobile(row.phone)
        if phone:
            row.phone = phone
        else:
            errors.append(
                f"Телефон «{row.phone}» — не российский мобильный номер "
                f"(пример: {RUSSIAN_MOBILE_EXAMPLE})"
            )
    return row


def _is_formula(name: str, value: str) -> bool:
    if not value.startswith(_FORMULA_STARTS):
        return False
    # In the phone column «+7 912 345-67-89» is a number, right or wrong, not a formula.
    return not (name == _PHONE and set(value) <= _PHONE_CHARS)


def _russian_mobile(value: str) -> str:
    """The number in E.164 if it is a Russian mobile, else ""."""
    try:
        number = PhoneNumber.from_string(value, region="RU")
        validate_russian_mobile(number)
    except (NumberParseException, ValidationError):
        return ""
    return number.as_e164 if number.is_valid() else ""


def _name_key(last: str, first: str, patronymic: str) -> str:
    return " ".join(p for p in (last, first, patronymic) if p).casefold().replace("ё", "е")


def _check_against_file(row: ImportRow, first_seen: dict[tuple[str, ...], int]) -> None:
    """The same e-mail twice, or the same name twice without e-mail: the second is an error."""
    if row.email:
        key: tuple[str, ...] = ("email", row.email)
    elif row.last_name and row.first_name:
        key = ("name", _name_key(row.last_name, row.first_name, row.patronymic))
    else:
        return
    if key in first_seen:
        row.errors.append(f"Повторяет строку {first_seen[key]}")
    else:
        first_seen[key] = row.line


@dataclass
class _Known:
    """The organisation's people by e-mail and by name, and every e-mail on the portal."""

    by_email: dict[str, int]
    by_name: dict[str, int]
    without_email: set[int]  # people imported before without an e-mail
    email_owners: dict[str, int | None]  # e-mail → organisation id

    @classmethod
    def load(cls, organisation) -> _Known:
        by_email: dict[str, int] = {}
        by_name: dict[str, int] = {}
        without_email: set[int] = set()
        people = User.objects.filter(organisation=organisation).order_by("pk")
        for pk, last, first, patronymic, email in people.values_list(
            "pk", "last_name", "first_name", "patronymic", "email"
        ):
            if email:
                by_email.setdefault(email.lower(), pk)
            else:
                without_email.add(pk)
            by_name.setdefault(_name_key(last, first, patronymic), pk)
        email_owners = {
            email.lower(): organisation_id
            for email, organisation_id in User.objects.exclude(email="").values_list(
                "email", "organisation_id"
            )
        }
        return cls(
            by_email=by_email,
            by_name=by_name,
            without_email=without_email,
            email_owners=email_owners,
        )


def _check_against_database(row: ImportRow, known: _Known) -> None:
    if row.email:
        if row.email in known.by_email:
            row.existing_id = known.by_email[row.email]
        elif row.email in known.email_owners:
            row.errors.append(f"E-mail «{row.email}» уже указан у другого человека на портале")
        else:
            # The same person imported earlier without an e-mail is matched by name, so a
            # list re-uploaded with e-mails added creates nobody twice.
            namesake = known.by_name.get(_name_key(row.last_name, row.first_name, row.patronymic))
            if namesake in known.without_email:
                row.existing_id = namesake
    elif row.last_name and row.first_name:
        row.existing_id = known.by_name.get(
            _name_key(row.last_name, row.first_name, row.patronymic)
        )
