"""Published texts (the regulation, notices to parents) from Markdown to HTML.

CommonMark with raw HTML switched off, so whatever a text holds is shown as text. Links are
links: «[текст](https://…)», «<https://…>» and a bare «https://…» in the text become
`<a href rel="noopener">`, and only for http, https and mailto addresses; any other link
(`javascript:`, `data:`, a relative address) stays as the text that was typed.

Bare addresses are found by markdown-it's `linkify` (linkify-it-py), with its fuzzy matching
off: «sferum.ru» without a scheme stays text, as the author typed it.
"""

import functools
import re

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from .errors import PortalError

# CommonMark with raw HTML switched off: whatever a version's text holds is shown as text.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False, "linkify": True}).enable(
    "linkify"
)
_markdown.linkify.set({"fuzzy_link": False, "fuzzy_email": False})

SAFE_SCHEMES = ("http://", "https://", "mailto:")
LINK_REL = "noopener"


def _safe_link(url: str) -> bool:
    """Only web and mail addresses; markdown-it asks this of every link and autolink."""
    return url.strip().lower().startswith(SAFE_SCHEMES)


_markdown.validateLink = _safe_link


def _link_open(self, tokens, idx, options, env) -> str:
    tokens[idx].attrSet("rel", LINK_REL)
    return self.renderToken(tokens, idx, options, env)


_markdown.add_render_rule("link_open", _link_open)


NBSP = "\u00a0"


def nowrap_marks(text: str) -> str:
    """«№ 201-О», «30.11.2023 г.» kept whole at a line's end: a non-breaking space after «№»
    and before «г.» (on a phone a line otherwise breaks «№» from its number)."""
    return text.replace("№ ", f"№{NBSP}").replace(" г.", f"{NBSP}г.")


# An address's abbreviations keep what follows them on their line: «д. 5», «кв. 12».
_ADDRESS_ABBREVIATION = re.compile(
    r"(?<![\w-])(г|ул|д|кв|корп|стр|пр|пер|пл|наб|обл|пос|с|ш|мкр|пом|оф)\. (?=\S)"
)


def nowrap_address(text: str) -> str:
    """«г. Тверь, ул. Советская, д. 5, кв. 12» with a non-breaking space after each
    abbreviation, so a line never ends with «кв.» and starts with «12»."""
    return _ADDRESS_ABBREVIATION.sub(rf"\1.{NBSP}", text)


# A number after «№» that starts with a digit («201-О», «152-ФЗ», «5.1»; a full stop after it ends
# the sentence): kept on one line whole, as a browser otherwise breaks «152-» from «ФЗ» at its
# hyphen.
_NUMBER = re.compile(rf"№{NBSP}([0-9](?:[\w/-]|\.(?=\w))*)")


def _text(self, tokens, idx, options, env) -> str:
    """A run of text, escaped as markdown-it escapes it, with «№» and «г.» kept whole: typed
    texts rarely carry the non-breaking space. Only text is touched, never a link's address or
    title."""
    html = nowrap_marks(escapeHtml(tokens[idx].content))
    return _NUMBER.sub(rf'<span class="text-nowrap">№{NBSP}\1</span>', html)


_markdown.add_render_rule("text", _text)


# The regulation (30,000 characters) is read far more often than it changes: rendering it took
# half of its page's time. The same text always gives the same HTML.
@functools.lru_cache(maxsize=64)
def render_markdown(text: str) -> SafeString:
    return mark_safe(_markdown.render(text))  # raw HTML is escaped by the parser


# The images are looked for with markdown-it's own link check, which takes any address but
# `javascript:` and the like: `_safe_link` would leave «![](//host/x.png)» unparsed, and so
# unrefused, although it is an image the text means to embed.
_image_finder = MarkdownIt("commonmark", {"html": False, "typographer": False})


def image_sources(text: str) -> list[str]:
    """The images a Markdown text embeds (`![alt](src)`), found by the parser's own tokens
    rather than a pattern, so reference-style images and nested ones are found too."""
    found: list[str] = []
    stack = list(_image_finder.parse(text or ""))
    while stack:
        token = stack.pop(0)
        if token.type == "image":
            found.append(token.attrGet("src") or "")
        stack.extend(token.children or [])
    return found


IMAGES_REFUSED = "Картинки в тексте не поддерживаются: уберите ![…](…)"


def refuse_images(text: str) -> None:
    """Refuse a regulation or notice text that embeds an image. Such a link would be fetched
    when the PDF is made (the renderer now refuses it, but the text would print with a hole)
    and has no place in a regulation; the person is told at saving time instead."""
    if image_sources(text):
        raise PortalError(IMAGES_REFUSED, field="text")
