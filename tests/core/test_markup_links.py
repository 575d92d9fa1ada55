"""Links in published texts are links, and only safe ones; the text field of a regulation
version is labelled in plain Russian with a short help on lists, bold and links."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from acknowledgements.forms import TEXT_HELP_ID, VersionForm
from acknowledgements.services import version_approve, version_create
from cdt_portal.markup import render_markdown
from families.services import notice_publish

LINK = '<a href="{href}" rel="noopener">{text}</a>'


def link(href: str, text: str | None = None) -> str:
    return LINK.format(href=href, text=text or href)


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("[сайт «Сферума»](https://sferum.ru)", link("https://sferum.ru", "сайт «Сферума»")),
        ("Сайт: https://sferum.ru/faq.", "Сайт: " + link("https://sferum.ru/faq") + "."),
        ("(см. http://example.ru/a)", "(см. " + link("http://example.ru/a") + ")"),
        ("«https://sferum.ru»", "«" + link("https://sferum.ru") + "»"),
        ("<https://sferum.ru>", link("https://sferum.ru")),
        ("[письмо](mailto:info@sferum.ru)", link("mailto:info@sferum.ru", "письмо")),
        ("<info@sferum.ru>", link("mailto:info@sferum.ru", "info@sferum.ru")),
        ("https://example.ru/__init__", link("https://example.ru/__init__")),
        (
            "**важно: https://sferum.ru**",
            "<strong>важно: " + link("https://sferum.ru") + "</strong>",
        ),
    ],
)
def test_links_and_bare_addresses_become_links(text, html):
    assert render_markdown(text) == f"<p>{html}</p>\n"


def test_a_bracketed_address_keeps_its_own_bracket():
    html = render_markdown("https://ru.wikipedia.org/wiki/Сферум_(платформа).")
    assert html.startswith('<p><a href="https://ru.wikipedia.org/wiki/%D0%A1')
    assert ">https://ru.wikipedia.org/wiki/Сферум_(платформа)</a>.</p>" in html


@pytest.mark.parametrize(
    "text",
    [
        "[нажми](javascript:alert(1))",
        "[нажми](JavaScript:alert(1))",
        "[нажми](data:text/html;base64,PHNjcmlwdD4=)",
        "[нажми](vbscript:msgbox(1))",
        "[файл](file:///etc/passwd)",
        "[ftp](ftp://example.ru/)",
        "[здесь](/regulation/)",
        "<javascript:alert(1)>",
        "javascript:alert(1)",
    ],
)
def test_other_links_stay_text(text):
    html = render_markdown(text)
    assert "<a " not in html and "href" not in html


def test_raw_html_and_quotes_in_an_address_cannot_escape():
    html = render_markdown('<a href="javascript:x">x</a> https://x.ru/"onmouseover=alert(1)')
    assert '<a href="javascript' not in html
    assert "&lt;a href=" in html
    # The address ends at the quote; what follows is text, never an attribute.
    assert '<a href="https://x.ru/" rel="noopener">https://x.ru/</a>&quot;onmouseover' in html
    assert "onmouseover=alert(1)</p>" in html


def test_an_address_inside_a_link_or_code_is_not_linked_again():
    assert render_markdown("[https://a.ru](https://b.ru)") == (
        '<p><a href="https://b.ru" rel="noopener">https://a.ru</a></p>\n'
    )
    assert render_markdown("`https://a.ru`") == "<p><code>https://a.ru</code></p>\n"


TEXT = """## 1. Общие положения

Подробнее — на сайте [«Сферум»](https://sferum.ru) и в разделе https://sferum.ru/help.

- **пункт** первый;
- пункт второй: <info@sferum.ru>.
"""


def test_the_published_regulation_shows_its_links(client, organisation, director, teacher):
    version = version_create(
        organisation=organisation, actor=director, title="Положение по использованию ИКОП «Сферум»",
        text=TEXT, order_number="5-О", order_date=dt.date(2024, 1, 10),
        approver_position="Директор", approver_name="О.Б. Денисенко",
    )  # fmt: skip
    version_approve(version=version, actor=director)
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert link("https://sferum.ru", "«Сферум»") in page
    assert link("https://sferum.ru/help") + "." in page
    assert link("mailto:info@sferum.ru", "info@sferum.ru") in page
    assert "<strong>пункт</strong>" in page


def test_the_published_notice_shows_its_links_to_parents(client, organisation, admin, parent):
    notice_publish(
        organisation=organisation, actor=admin, text="Инструкция: https://sferum.ru/parents"
    )
    client.force_login(parent)
    page = client.get("/", follow=True).content.decode()
    assert link("https://sferum.ru/parents") in page


def test_the_version_text_is_labelled_in_plain_russian():
    field = VersionForm().fields["text"]
    assert field.label == "Текст Положения"
    assert field.help_text == ""
    assert field.widget.attrs["aria-describedby"] == TEXT_HELP_ID


@pytest.mark.parametrize("page", ["new", "edit"])
def test_the_version_form_shows_how_to_write_a_list_bold_and_a_link(
    client, director, draft_version, page
):
    client.force_login(director)
    url = (
        reverse("version_new")
        if page == "new"
        else reverse("version_edit", kwargs={"pk": draft_version.pk})
    )
    html = client.get(url).content.decode()
    assert "Markdown" not in html
    assert re.search(r"<label[^>]*for=\"id_text\"[^>]*>\s*Текст Положения", html)
    assert f'aria-describedby="{TEXT_HELP_ID}"' in html
    assert f'id="{TEXT_HELP_ID}"' in html
    for how in ("список", "жирный", "ссылка", "**важно**", "(https://sferum.ru)"):
        assert how in html
