"""The print stylesheet is parsed once per process and shared by every render
(`cdt_portal.pdf._print_stylesheet`): renders running at the same moment in threads (the
development server's requests beside the worker's thread) give the documents that renders one
at a time give, with the stylesheet's page numbers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cdt_portal.pdf import _print_stylesheet, _write_pdf
from tests.helpers import pdf_reader

# Every render here must be WeasyPrint's own, never one reused (tests/rendered_once.py).
pytestmark = pytest.mark.renders_afresh


def document(number: int) -> str:
    paragraphs = "".join(
        f"<p>Документ №{number}, абзац {n}: текст, который переносится на новые страницы.</p>"
        for n in range(60 * (number + 1))
    )
    return f"<html lang='ru'><body><h1>Документ №{number}</h1>{paragraphs}</body></html>"


def page_words(data: bytes) -> list[list[str]]:
    return [page.extract_text().split() for page in pdf_reader(data).pages]


def test_renders_at_the_same_moment_equal_renders_one_at_a_time():
    htmls = [document(n) for n in range(4)]
    one_at_a_time = [page_words(_write_pdf(html)) for html in htmls]
    start = threading.Barrier(len(htmls))

    def render(html: str) -> bytes:
        start.wait()
        return _write_pdf(html)

    with ThreadPoolExecutor(len(htmls)) as pool:
        together = [page_words(data) for data in pool.map(render, htmls)]

    assert together == one_at_a_time
    assert 1 < len(one_at_a_time[0]) < len(one_at_a_time[3])
    for pages in one_at_a_time:
        # print.css numbers every page but the first at its top centre (the paragraphs' own
        # numbers are followed by a colon or a comma, never alone).
        assert "1" not in pages[0]
        assert all(str(number) in words for number, words in enumerate(pages[1:], start=2))
    assert _print_stylesheet.cache_info().currsize == 1
