from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# CommonMark with raw HTML switched off: whatever a version's text holds is shown as text.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False})


def render_markdown(text: str) -> SafeString:
    return mark_safe(_markdown.render(text))  # raw HTML is escaped by the parser
