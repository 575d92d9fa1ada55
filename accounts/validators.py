from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from phonenumber_field.phonenumber import PhoneNumber

RUSSIAN_MOBILE_EXAMPLE = "+7 912 345-67-89"


def validate_russian_mobile(value: PhoneNumber | None) -> None:
    """A Russian mobile number: +7 9XX XXX-XX-XX.

    Kazakhstan shares the +7 country code; its mobiles start with 6 or 7, so the leading 9
    is what makes the number Russian and mobile (the Sferum admin rights go to this number).
    """
    if not value:
        return
    national = str(value.national_number)
    if value.country_code != 7 or len(national) != 10 or not national.startswith("9"):
        raise ValidationError(
            _("Введите российский номер мобильного телефона, например %(example)s."),
            code="not_russian_mobile",
            params={"example": RUSSIAN_MOBILE_EXAMPLE},
        )
