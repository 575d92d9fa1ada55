from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from .errors import PortalError

# CommonMark with raw HTML switched off: whatever a version's text holds is shown as text.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False})


def render_markdown(text: str) -> SafeString:
    return mark_safe(_markdown.render(text))  # raw HTML is escaped by the parser


def image_sources(text: str) -> list[str]:
    """The images a Markdown text embeds (`![alt](src)`), found by the parser's own tokens
    rather than a pattern, so reference-style images and nested ones are found too."""
    found: list[str] = []
    stack = list(_markdown.parse(text or ""))
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
