"""Staff import, reading and preview: formats, header variants, row errors, re-import."""

import csv
import io
import zipfile

import openpyxl
import pytest

from accounts.models import User
from accounts.staff_import import (
    ImportPreview,
    ImportRow,
    preview_staff_import,
)
from cdt_portal.errors import PortalError
from tests.factories import UserFactory

HEADER = ["Фамилия", "Имя", "Отчество", "Должность", "E-mail", "Телефон"]
STAFF = [
    ["Ёлкина", "Алёна", "Петровна", "педагог дополнительного образования", "", ""],
    ["Римская-Корсакова", "Мария", "Ивановна", "методист, педагог-организатор", "", ""],
    ["О'Коннор", "Патрик", "", "концертмейстер", "", ""],
    ["Мамедов", "Рашид", "Гасан Оглы", "педагог", "", ""],
    ["Фёдорова", "Анна", "Сергеевна", "заместитель директора", "Fedorova@Example.RU",
     "8 (912) 345-67-89"],
]  # fmt: skip


def expected_rows() -> list[ImportRow]:
    """STAFF as the preview should see it: lines from 2, e-mail in lower case, phone in E.164."""
    rows = [ImportRow(n, *person[:5], "", []) for n, person in enumerate(STAFF, 2)]
    rows[4].email, rows[4].phone = "fedorova@example.ru", "+79123456789"
    return rows


def csv_bytes(rows, *, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)  # \r\n line ends, as Excel writes
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, *, sheets_before_active=None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Сотрудники"
    for row in rows:
        sheet.append(row)
    if sheets_before_active is not None:
        other = book.create_sheet("Черновик")
        for row in sheets_before_active:
            other.append(row)
        book.active = other
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def full_name_rows(header_name="Ф.И.О."):
    return [[header_name, "Должность", "E-mail", "Телефон"]] + [
        [" ".join(p for p in row[:3] if p), *row[3:]] for row in STAFF
    ]


def preview(organisation, content, **kwargs) -> ImportPreview:
    return preview_staff_import(organisation=organisation, content=content, **kwargs)


def refusal(organisation, content, **kwargs) -> str:
    with pytest.raises(PortalError) as info:
        preview(organisation, content, **kwargs)
    return info.value.message


def only_row(result: ImportPreview) -> ImportRow:
    rows = result.to_add + result.matches + result.errors
    assert len(rows) == 1
    return rows[0]


# --- Formats ---------------------------------------------------------------------------

FOUR_FORMATS = {
    "utf8-comma": lambda rows: csv_bytes(rows, delimiter=","),
    "utf8-bom-semicolon": lambda rows: csv_bytes(rows, delimiter=";", encoding="utf-8-sig"),
    "cp1251-semicolon": lambda rows: csv_bytes(rows, delimiter=";", encoding="cp1251"),
    "xlsx": xlsx_bytes,
}


@pytest.mark.parametrize("fmt", FOUR_FORMATS)
def test_each_format_reads_the_staff_list(organisation, fmt):
    result = preview(organisation, FOUR_FORMATS[fmt]([HEADER, *STAFF]))
    assert result == ImportPreview(to_add=expected_rows(), matches=[], errors=[])
    assert result.total == 5
    assert [r.full_name for r in result.to_add][:3] == [
        "Ёлкина Алёна Петровна",
        "Римская-Корсакова Мария Ивановна",
        "О'Коннор Патрик",
    ]


def test_four_formats_give_identical_previews(organisation):
    previews = [preview(organisation, build([HEADER, *STAFF])) for build in FOUR_FORMATS.values()]
    assert all(p == previews[0] for p in previews[1:])


@pytest.mark.parametrize(
    "header_name", ["ФИО", "Ф.И.О.", "Ф. И. О.", "фио", "Фамилия, имя, отчество"]
)
@pytest.mark.parametrize("fmt", ["utf8-bom-semicolon", "xlsx"])
def test_single_full_name_column_gives_the_same_people(organisation, header_name, fmt):
    result = preview(organisation, FOUR_FORMATS[fmt](full_name_rows(header_name)))
    assert result.to_add == expected_rows()
    assert result.errors == []


def test_full_name_with_one_word_has_no_first_name(organisation):
    result = preview(organisation, csv_bytes([["ФИО"], ["Иванов"]]))
    assert only_row(result).errors == ["Нет имени"]


def test_headers_in_any_case_with_spaces_and_yo(organisation):
    header = ["  ФАМИЛИЯ ", "имя", "ОТЧЁСТВО", "должность", "e-MAIL", "Мобильный  телефон"]
    assert preview(organisation, csv_bytes([header, *STAFF])).to_add == expected_rows()


@pytest.mark.parametrize(
    ("email_header", "phone_header"),
    [("Email", "Телефон"), ("Эл. почта", "мобильный телефон"), ("Электронная почта", "ТЕЛЕФОН")],
)
def test_email_and_phone_header_variants(organisation, email_header, phone_header):
    rows = [
        ["Фамилия", "Имя", email_header, phone_header],
        ["Фёдорова", "Анна", "a@b.ru", "89123456789"],
    ]
    row = only_row(preview(organisation, csv_bytes(rows)))
    assert (row.email, row.phone) == ("a@b.ru", "+79123456789")


def test_unknown_columns_are_ignored(organisation):
    rows = [["№", "Фамилия", "Имя", "Примечание"], ["1", "Ёлкина", "Алёна", "в декрете"]]
    row = only_row(preview(organisation, csv_bytes(rows, delimiter=";")))
    assert (row.full_name, row.position, row.errors) == ("Ёлкина Алёна", "", [])


def test_semicolon_file_whose_header_has_commas(organisation):
    rows = [["Фамилия, имя, отчество", "Должность"], ["Ёлкина Алёна Петровна", "педагог"]]
    row = only_row(preview(organisation, csv_bytes(rows, delimiter=";", encoding="cp1251")))
    assert (row.last_name, row.first_name, row.patronymic, row.position) == (
        "Ёлкина", "Алёна", "Петровна", "педагог",
    )  # fmt: skip


def test_semicolon_file_with_one_column_named_with_commas(organisation):
    text = "Фамилия, имя, отчество\r\nЁлкина Алёна Петровна\r\nМамедов Рашид Гасан Оглы\r\n"
    result = preview(organisation, text.encode("cp1251"))
    assert [(r.last_name, r.first_name, r.patronymic) for r in result.to_add] == [
        ("Ёлкина", "Алёна", "Петровна"),
        ("Мамедов", "Рашид", "Гасан Оглы"),
    ]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_hand_written_file_with_short_rows(organisation, delimiter):
    text = (
        "Фамилия,Имя,Отчество\nЁлкина,Алёна,Петровна\nО'Коннор,Патрик\nМамедов,Рашид,Гасан Оглы\n"
    )
    result = preview(organisation, text.replace(",", delimiter).encode())
    assert [r.full_name for r in result.to_add] == [
        "Ёлкина Алёна Петровна",
        "О'Коннор Патрик",
        "Мамедов Рашид Гасан Оглы",
    ]


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_the_other_separator_inside_cells(organisation, delimiter):
    rows = [
        ["ФИО", "Должность"],
        ["Ёлкина Алёна", "педагог; методист"],
        ["Мамедов Рашид", "педагог, концертмейстер"],
        ["О'Коннор Патрик", "педагог"],
    ]
    result = preview(organisation, csv_bytes(rows, delimiter=delimiter))
    assert [r.position for r in result.to_add] == [
        "педагог; методист",
        "педагог, концертмейстер",
        "педагог",
    ]


def test_spaces_are_stripped_and_collapsed_yo_kept(organisation):
    rows = [
        ["ФИО", "Должность"],
        ["  Ёлкина \u00a0 Алёна\tПетровна ", " педагог   доп.  образования "],
    ]
    row = only_row(preview(organisation, csv_bytes(rows)))
    assert (row.full_name, row.position) == ("Ёлкина Алёна Петровна", "педагог доп. образования")


def test_empty_rows_are_skipped_and_lines_are_excel_rows(organisation):
    text = (
        "Фамилия;Имя;Должность\r\n"
        "\r\n"
        'Ёлкина;Алёна;"педагог\r\nметодист"\r\n'  # a cell on two lines is still one row
        ";;\r\n"
        "Мамедов;;педагог\r\n"
    )
    result = preview(organisation, text.encode("cp1251"))
    assert [(r.line, r.full_name) for r in result.to_add] == [(3, "Ёлкина Алёна")]
    assert result.to_add[0].position == "педагог методист"
    assert [(r.line, r.errors) for r in result.errors] == [(5, ["Нет имени"])]


def test_rows_with_only_unknown_columns_filled_are_skipped(organisation):
    rows = [["№", "ФИО"], ["1", "Ёлкина Алёна"], ["2", ""], ["3", ""]]
    assert preview(organisation, csv_bytes(rows)).total == 1


def test_rows_longer_than_the_header_are_read(organisation):
    text = "Фамилия;Имя\nЁлкина;Алёна;;\nМамедов;Рашид\n"
    result = preview(organisation, text.encode())
    assert [r.full_name for r in result.to_add] == ["Ёлкина Алёна", "Мамедов Рашид"]


def test_xlsx_title_above_the_header_empty_rows_and_numbers(organisation):
    content = xlsx_bytes(
        [
            ["Список педагогических работников"],
            [],
            ["Ф.И.О.", "Телефон"],
            ["Фёдорова Анна Сергеевна", 89123456789],
            [],
            ["Мамедов Рашид", None],
        ]
    )
    result = preview(organisation, content)
    assert [(r.line, r.full_name, r.phone) for r in result.to_add] == [
        (4, "Фёдорова Анна Сергеевна", "+79123456789"),
        (6, "Мамедов Рашид", ""),
    ]


def test_xlsx_first_sheet_is_read_even_if_another_is_active(organisation):
    content = xlsx_bytes([HEADER, *STAFF], sheets_before_active=[["ФИО"], ["Чужой Пётр"]])
    assert preview(organisation, content).to_add == expected_rows()


# --- Files that are refused ------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \r\n", b"\xef\xbb\xbf", b";;;\r\n;;\r\n"])
def test_empty_file(organisation, content):
    assert refusal(organisation, content) == "Файл пустой."


def test_empty_xlsx(organisation):
    assert refusal(organisation, xlsx_bytes([])) == "Файл пустой."


@pytest.mark.parametrize(
    "content",
    [csv_bytes([HEADER]), csv_bytes([HEADER, ["", "", ""]]), xlsx_bytes([HEADER])],
    ids=["csv", "csv-blank-row", "xlsx"],
)
def test_header_only(organisation, content):
    assert refusal(organisation, content).startswith("В файле нет ни одной строки с данными")


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


NOT_TABLES = {
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "pdf-ascii": b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64,
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)),
    "junk": bytes(range(256)) * 8,
    "docx": _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
    "zip-junk": b"PK\x03\x04" + b"\x00" * 40,
}


@pytest.mark.parametrize("kind", NOT_TABLES)
def test_not_a_table(organisation, kind):
    message = refusal(organisation, NOT_TABLES[kind])
    assert message.startswith("Файл не похож на таблицу CSV или XLSX")


def test_old_office_format_suggests_xlsx_or_csv(organisation):
    old_xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "Workbook".encode("utf-16-le")
    message = refusal(organisation, old_xls)
    assert "старого формата" in message
    assert "«Книга Excel (*.xlsx)» или CSV" in message


def test_opendocument_spreadsheet_suggests_xlsx(organisation):
    ods = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""})
    assert refusal(organisation, ods).startswith("Это таблица OpenDocument (.ods)")


def test_broken_xlsx(organisation):
    broken = _zip({"[Content_Types].xml": b"<Types", "xl/workbook.xml": b"not xml"})
    assert refusal(organisation, broken).startswith("Не удалось прочитать файл XLSX")


@pytest.mark.parametrize(
    "header", [["Должность", "E-mail"], ["Сотрудник", "Телефон"], ["Фамилия", "Должность"]]
)
def test_missing_name_columns(organisation, header):
    message = refusal(organisation, csv_bytes([header, ["a", "b"]], delimiter=";"))
    assert "«Ф.И.О.»" in message
    assert "«Фамилия», «Имя», «Отчество»" in message


def test_missing_first_name_column_is_named(organisation):
    message = refusal(organisation, csv_bytes([["Фамилия", "Отчество"], ["Ёлкина", "Петровна"]]))
    assert message.startswith("В таблице нет столбца «Имя».")


def test_too_many_rows_refused(organisation):
    rows = [["ФИО", "E-mail"]] + [["Иванова Анна", f"user{i}@example.ru"] for i in range(10_001)]
    assert refusal(organisation, csv_bytes(rows)) == (
        "Слишком много строк: 10 001. Можно загрузить не больше 10 000 за раз."
    )


def staff_rows(count: int) -> bytes:
    rows = [HEADER] + [
        ["Иванова", "Анна", "Сергеевна", "педагог", f"user{i}@example.ru", f"+7912{i:07d}"]
        for i in range(count)
    ]
    return csv_bytes(rows, delimiter=";", encoding="cp1251")


def test_ten_thousand_rows_take_as_many_queries_as_ten(organisation, django_assert_num_queries):
    # The organisation's people and every e-mail on the portal, read once each.
    for count in (10, 10_000):
        content = staff_rows(count)
        with django_assert_num_queries(2):
            result = preview(organisation, content)
        assert len(result.to_add) == count
        assert result.errors == []
        assert result.to_add[-1].line == count + 1


def test_max_rows_can_be_lowered(organisation):
    message = refusal(organisation, csv_bytes([HEADER, *STAFF]), max_rows=4)
    assert message == "Слишком много строк: 5. Можно загрузить не больше 4 за раз."


# --- Row errors ------------------------------------------------------------------------


def test_row_without_surname(organisation):
    rows = [HEADER, STAFF[0], ["", "Иван", "Иванович", "педагог", "", ""]]
    result = preview(organisation, csv_bytes(rows))
    assert [(r.line, r.errors) for r in result.errors] == [(3, ["Нет фамилии"])]
    assert len(result.to_add) == 1


def test_a_row_may_have_several_errors(organisation):
    rows = [HEADER, ["", "", "", "", "ivanov@", "12345"]]
    assert only_row(preview(organisation, csv_bytes(rows))).errors == [
        "Нет фамилии",
        "Нет имени",
        "Неверный e-mail «ivanov@»",
        "Телефон «12345» — не российский мобильный номер (пример: +7 912 345-67-89)",
    ]


@pytest.mark.parametrize("email", ["ivanov@", "ivanov.mail.ru", "ivanov@mail ru", "a@b@c.ru"])
def test_invalid_email(organisation, email):
    row = only_row(preview(organisation, csv_bytes([["ФИО", "E-mail"], ["Иванов Иван", email]])))
    assert row.errors == [f"Неверный e-mail «{email.lower()}»"]


def test_too_long_name(organisation):
    row = only_row(preview(organisation, csv_bytes([["Фамилия", "Имя"], ["Я" * 151, "Иван"]])))
    assert row.errors == ["Фамилия длиннее 150 символов"]


@pytest.mark.parametrize(
    "phone", ["+7 495 123-45-67", "+7 701 123-45-67", "+375 29 123-45-67", "12345", "телефон"]
)
def test_invalid_phone(organisation, phone):
    row = only_row(preview(organisation, csv_bytes([["ФИО", "Телефон"], ["Иванов Иван", phone]])))
    assert row.errors == [
        f"Телефон «{phone}» — не российский мобильный номер (пример: +7 912 345-67-89)"
    ]


@pytest.mark.parametrize(
    "phone", ["8 912 345-67-89", "+7(912)3456789", "9123456789", "79123456789", "8-912-345-67-89"]
)
def test_phone_is_stored_in_e164(organisation, phone):
    row = only_row(preview(organisation, csv_bytes([["ФИО", "Телефон"], ["Иванов Иван", phone]])))
    assert (row.phone, row.errors) == ("+79123456789", [])


def test_duplicates_in_file(organisation):
    rows = [
        ["ФИО", "E-mail"],
        ["Иванова Анна", "anna@example.ru"],
        ["Петрова Анна", "ANNA@example.ru"],  # same e-mail, another name
        ["Сидоров Пётр", ""],
        ["сидоров петр", ""],  # same name, any case, е for ё
        ["Сидоров Пётр", "petr@example.ru"],  # a namesake with his own e-mail
    ]
    result = preview(organisation, csv_bytes(rows))
    assert [(r.line, r.errors) for r in result.errors] == [
        (3, ["Повторяет строку 2"]),
        (5, ["Повторяет строку 4"]),
    ]
    assert [r.line for r in result.to_add] == [2, 4, 6]


def test_email_of_another_organisations_person(organisation, other_organisation):
    UserFactory(organisation=other_organisation, email="Taken@Example.ru")
    UserFactory(organisation=None, email="root@example.ru")
    rows = [
        ["ФИО", "E-mail"],
        ["Иванова Анна", "taken@example.ru"],
        ["Петров Пётр", "ROOT@example.ru"],
    ]
    result = preview(organisation, csv_bytes(rows))
    assert [r.errors for r in result.errors] == [
        ["E-mail «taken@example.ru» уже указан у другого человека на портале"],
        ["E-mail «root@example.ru» уже указан у другого человека на портале"],
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("Должность", '=HYPERLINK("http://evil.example","Жми")'),
        ("Фамилия", "@SUM(1+1)"),
        ("Имя", "+cmd|' /C calc'!A0"),
        ("E-mail", "-2+3@example.ru"),
        ("Телефон", "=1+1"),
        ("Телефон", "+7 912 =1"),
    ],
)
def test_formula_cell(organisation, column, value):
    cells = {"Фамилия": "Иванов", "Имя": "Иван", "Должность": "", "E-mail": "", "Телефон": ""}
    cells[column] = value
    row = only_row(preview(organisation, csv_bytes([list(cells), list(cells.values())])))
    assert row.errors == [f"Формула в ячейке не допускается («{column}»)"]


def test_formula_in_full_name_column(organisation):
    row = only_row(preview(organisation, csv_bytes([["ФИО"], ["=HYPERLINK(1)"]])))
    assert row.errors == ["Формула в ячейке не допускается («Ф.И.О.»)"]


def test_phone_with_plus_and_dash_placeholders_are_not_formulas(organisation):
    rows = [HEADER, ["Иванов", "Иван", "-", "—", "-", "+7 912 345-67-89"]]
    row = only_row(preview(organisation, csv_bytes(rows)))
    assert (row.patronymic, row.position, row.email, row.phone, row.errors) == (
        "", "", "", "+79123456789", [],
    )  # fmt: skip


# --- Matching people the organisation already has --------------------------------------


def test_reimport_matches_everyone_and_adds_nobody(organisation):
    people = [
        UserFactory(organisation=organisation, last_name="Елкина", first_name="Алена",
                    patronymic="Петровна"),
        UserFactory(organisation=organisation, last_name="римская-корсакова", first_name="МАРИЯ",
                    patronymic="Ивановна"),
        UserFactory(organisation=organisation, last_name="О'Коннор", first_name="Патрик",
                    patronymic=""),
        UserFactory(organisation=organisation, last_name="Мамедов", first_name="Рашид",
                    patronymic="Гасан оглы"),
        # Matched by e-mail, whatever the name.
        UserFactory(organisation=organisation, last_name="Смирнова", first_name="Анна",
                    email="FEDOROVA@example.ru"),
    ]  # fmt: skip
    users_before = User.objects.count()
    for build in FOUR_FORMATS.values():
        result = preview(organisation, build([HEADER, *STAFF]))
        assert result.to_add == []
        assert result.errors == []
        assert [r.existing_id for r in result.matches] == [p.pk for p in people]
        assert [r.line for r in result.matches] == [2, 3, 4, 5, 6]
    assert User.objects.count() == users_before


def test_partial_reimport(organisation):
    existing = UserFactory(
        organisation=organisation, last_name="Ёлкина", first_name="Алёна", patronymic="Петровна"
    )
    result = preview(organisation, csv_bytes([HEADER, *STAFF]))
    assert [(r.line, r.existing_id) for r in result.matches] == [(2, existing.pk)]
    assert [r.line for r in result.to_add] == [3, 4, 5, 6]


def test_people_of_another_organisation_are_not_matched_by_name(organisation, other_organisation):
    UserFactory(
        organisation=other_organisation, last_name="Ёлкина", first_name="Алёна",
        patronymic="Петровна",
    )  # fmt: skip
    result = preview(organisation, csv_bytes([HEADER, STAFF[0]]))
    assert (len(result.to_add), result.matches) == (1, [])


def test_a_namesake_imported_before_without_email_is_matched(organisation):
    earlier = UserFactory(organisation=organisation, last_name="Фёдорова", first_name="Анна",
                          patronymic="Сергеевна", email="")  # fmt: skip
    result = preview(organisation, csv_bytes([HEADER, STAFF[4]]))
    assert result.to_add == []
    assert [row.existing_id for row in result.matches] == [earlier.pk]


def test_a_namesake_with_another_email_is_a_different_person(organisation):
    UserFactory(organisation=organisation, last_name="Фёдорова", first_name="Анна",
                patronymic="Сергеевна", email="other.fedorova@example.ru")  # fmt: skip
    result = preview(organisation, csv_bytes([HEADER, STAFF[4]]))
    assert (len(result.to_add), result.matches) == (1, [])


def test_preview_writes_nothing(organisation):
    users_before = User.objects.count()
    preview(organisation, csv_bytes([HEADER, *STAFF]))
    preview(organisation, xlsx_bytes([HEADER, *STAFF]))
    assert User.objects.count() == users_before
