"""How the portal prints a phone number and names itself, in pages, PDFs and e-mails.

`{% load formatting %}`, then `{{ person.phone|phone }}` and `{{ organisation|portal_name }}`
(or `{{ organisation|portal_name:"портале" }}` for the word in another case).
"""

from __future__ import annotations

from django import template
from phonenumber_field.phonenumber import PhoneNumber
from phonenumbers import NumberParseException

from cdt_portal.emails import portal_name as _portal_name
from cdt_portal.markup import nowrap_address as _nowrap_address
from cdt_portal.markup import nowrap_marks as _nowrap_marks
from cdt_portal.plural import plural

register = template.Library()


def format_phone(value: object) -> str:
    """A phone as people write it: «+7 912 345-67-89» for a Russian mobile, whether it comes as
    a `PhoneNumber`, in E.164 («+79123456789») or as typed («8 912 3456789»). A number that is
    not valid is shown as it was given, never dropped."""
    if value is None or value == "":
        return ""
    try:
        number = (
            value
            if isinstance(value, PhoneNumber)
            else PhoneNumber.from_string(str(value), region="RU")
        )
    except NumberParseException:
        return str(value)
    return number.as_international if number.is_valid() else str(value)


@register.filter
def phone(value: object) -> str:
    return format_phone(value)


@register.filter
def portal_name(organisation, word: str = "Портал") -> str:
    return _portal_name(organisation, word=word)


@register.filter
def days(number: int) -> str:
    """«30 дней», «21 день», «22 дня»: a number of days after «через» or «не позднее чем
    через», so a configured period reads right whatever its number."""
    return f"{number} {plural(int(number), 'день', 'дня', 'дней')}"


@register.filter
def address(text: str) -> str:
    return _nowrap_address(str(text))


@register.filter
def nowrap_marks(text: str) -> str:
    return _nowrap_marks(str(text))
