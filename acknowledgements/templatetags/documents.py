from django import template

from ..links import document_url

register = template.Library()


@register.simple_tag
def docurl(page: str, document) -> str:
    """`{% docurl "list" version.document %}`: the document's page (`links.PAGES`)."""
    return document_url(page, document.code)
