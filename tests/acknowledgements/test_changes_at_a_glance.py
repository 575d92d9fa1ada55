"""«Что изменилось» in one glance (issue 21): only the changed paragraphs of the regulation,
rendered (no Markdown marks), each with its words struck and inserted, a line «изменено N
абзацев из M» and a link to the whole text; the paragraph diff itself keeps the renderer's
safety."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse

from acknowledgements.demo import parse_seed, seed_text
from acknowledgements.diff import ADDED, CHANGED, REMOVED, paragraph_diff, paragraphs
from acknowledgements.services import version_approve, version_create
from cdt_portal.plural import plural

OLD_WORDS = "является вспомогательным инструментом взаимодействия учителей"
NEW_WORDS = "служит основным средством общения педагогов"


def visible_text(page: str) -> str:
    """What a reader sees of a page: its <body> without tags, scripts and styles."""
    body = page.split("<body", 1)[1].split(">", 1)[1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def seed_version(organisation, director, text, *, approve, order_number="201-О"):
    seed = parse_seed(seed_text())
    version = version_create(
        organisation=organisation,
        actor=director,
        title=seed["title"],
        text=text,
        order_number=order_number,
        order_date=dt.date(2026, 12, 1),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    return version_approve(version=version, actor=director) if approve else version


@pytest.fixture
def seed_markdown():
    text = parse_seed(seed_text())["text"]
    assert text.count(OLD_WORDS) == 1 and "## 1. Общие положения" in text
    return text


def test_a_five_word_change_of_the_seed_is_one_screen(
    client, organisation, director, seed_markdown
):
    seed_version(organisation, director, seed_markdown, approve=True)
    new = seed_version(
        organisation,
        director,
        seed_markdown.replace(OLD_WORDS, NEW_WORDS),
        approve=False,
        order_number="7-О",
    )
    client.force_login(director)
    response = client.get(reverse("version_changes", kwargs={"pk": new.pk}))
    assert response.status_code == 200
    page = response.content.decode()
    text = visible_text(page)
    assert len(text) < 2000, len(text)
    total = len(paragraphs(seed_markdown))
    assert f"Изменён 1 абзац из {total}" in text
    assert "## " not in text and "**" not in text
    deleted = re.findall(r'<del class="diff-del">(.*?)</del>', page, re.S)
    inserted = re.findall(r'<ins class="diff-ins">(.*?)</ins>', page, re.S)
    assert deleted == [OLD_WORDS] and inserted == [NEW_WORDS]
    # The paragraph is rendered: a <p> of the regulation, under its section's heading.
    assert "1. Общие положения" in text
    whole = reverse("version_detail", kwargs={"pk": new.pk}) + "#version-text"
    assert f'<a href="{whole}">Весь текст редакции {new.number}</a>' in page
    assert 'id="version-text"' in client.get(whole).content.decode()
    assert "style=" not in page


def test_only_changed_paragraphs_are_kept_each_rendered():
    old = (
        "## 1. Раздел\n\nПервый абзац.\n\nВторой **важный** абзац.\n\n- пункт один;\n- пункт два.\n"
    )
    new = (
        "## 1. Раздел\n\nПервый абзац.\n\nВторой **главный** абзац.\n\n"
        "- пункт один;\n- пункт три.\n\nНовый абзац.\n"
    )
    diff = paragraph_diff(old, new)
    assert [p.kind for p in diff.paragraphs] == [CHANGED, CHANGED, ADDED]
    assert diff.paragraphs[0].html == (
        '<p>Второй <strong><del class="diff-del">важный</del><ins class="diff-ins">главный</ins>'
        "</strong> абзац.</p>\n"
    )
    assert '<li>пункт <del class="diff-del">два.</del><ins class="diff-ins">три.</ins></li>' in (
        diff.paragraphs[1].html
    )
    assert diff.paragraphs[2].html == '<p><ins class="diff-ins">Новый абзац.</ins></p>\n'
    assert {p.section for p in diff.paragraphs} == {"1. Раздел"}
    assert (diff.inserted_words, diff.deleted_words, diff.total) == (4, 2, 5)
    assert diff.summary == "изменено 3 абзаца из 5"


def test_a_removed_paragraph_is_struck_and_a_paragraph_added_before_an_edit_is_not_its_edit():
    old = "Один два три четыре.\n\nПять шесть семь восемь.\n\nУходит совсем.\n"
    new = "Совсем новый.\n\nОдин два три пять.\n\nПять шесть семь восемь.\n"
    diff = paragraph_diff(old, new)
    assert [p.kind for p in diff.paragraphs] == [ADDED, CHANGED, REMOVED]
    assert 'три <del class="diff-del">четыре.</del><ins class="diff-ins">пять.</ins>' in (
        diff.paragraphs[1].html
    )
    assert diff.paragraphs[2].html == '<p><del class="diff-del">Уходит совсем.</del></p>\n'


def test_the_same_text_has_no_changed_paragraph():
    text = parse_seed(seed_text())["text"]
    diff = paragraph_diff(text, text)
    assert not diff.changed and diff.paragraphs == ()


def test_nothing_the_administrator_types_becomes_markup():
    old = "Текст <b>жирный</b> и [ссылка](javascript:alert(1)).\n"
    new = 'Текст <script>alert("x")</script> и [ссылка](javascript:alert(2)) & <i onclick=x>.\n'
    html = paragraph_diff(old, new).paragraphs[0].html
    assert "<script" not in html and "<b>" not in html and "<i " not in html
    assert "&lt;script&gt;" in html and "href" not in html and "&amp;" in html
    tags = set(re.findall(r"</?([a-z]+)", html))
    assert tags <= {"p", "del", "ins"}


def test_a_changed_title_is_shown_word_by_word():
    diff = paragraph_diff(
        "Текст.", "Текст.", old_title="Старое название", new_title="Новое название"
    )
    assert diff.changed and diff.paragraphs == ()
    assert [(s.kind, s.text) for s in diff.title] == [
        ("delete", "Старое"),
        ("insert", "Новое"),
        ("equal", " название"),
    ]


@pytest.mark.parametrize(
    ("number", "word"),
    [
        (0, "абзацев"),
        (1, "абзац"),
        (2, "абзаца"),
        (4, "абзаца"),
        (5, "абзацев"),
        (11, "абзацев"),
        (12, "абзацев"),
        (14, "абзацев"),
        (21, "абзац"),
        (22, "абзаца"),
        (25, "абзацев"),
        (101, "абзац"),
        (111, "абзацев"),
    ],
)
def test_russian_plural(number, word):
    assert plural(number, "абзац", "абзаца", "абзацев") == word


# --- the versions list ---------------------------------------------------------------------------


def test_the_versions_list_tells_versions_apart_and_marks_an_editorial_correction(
    client, organisation, director, regulation
):
    correction = seed_version(organisation, director, "Исправленный текст.\n", approve=False)
    correction = version_approve(
        version=correction, actor=director, editorial=True, editorial_reason="Опечатка"
    )
    correction.refresh_from_db()
    assert correction.editorial and correction.corrects_id == regulation.pk
    draft = seed_version(
        organisation, director, "Новый текст.\n", approve=False, order_number="9-О"
    )
    client.force_login(director)
    page = client.get(reverse("version_list")).content.decode()
    rows = re.findall(r"<tr>\s*<td>(.*?)</tr>", page, re.S)
    assert len(rows) == 3
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert texts[0].startswith(f"Редакция {draft.number} № 9-О от 01.12.2026 черновик")
    assert texts[1].startswith(f"Редакция {correction.number} № 201-О от 01.12.2026")
    assert texts[2].startswith("Редакция 1 № 201-О от 30.11.2023")
    assert len(set(texts)) == 3
    # Only the correction wears the badge, naming the version it corrects.
    assert [("редакционная правка" in row) for row in texts] == [False, True, False]
    assert "редакционная правка редакции 1" in texts[1]
    # The title is printed once while it stays the same.
    assert page.count(regulation.title) == 1
