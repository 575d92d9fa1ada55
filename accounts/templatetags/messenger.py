"""The messenger's wording in templates: `{% chat_links group organisation as links %}`."""

from django import template

from accounts.messenger import ChatLink
from accounts.messenger import chat_links as group_chat_links

register = template.Library()


@register.simple_tag
def chat_links(group, organisation) -> list[ChatLink]:
    """The group's chat links to show, labelled, for the organisation's messenger state."""
    return group_chat_links(group, organisation.messenger_texts)
