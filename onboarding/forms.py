from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms import mobile_phone_field
from accounts.validators import RUSSIAN_MOBILE_EXAMPLE

# Every date of the request's forms starts at today: the organisation's date, since the
# time zone in force is the organisation's (accounts.middleware), read when the form is shown.
DATE_INPUT = {
    "widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    "input_formats": ["%Y-%m-%d", "%d.%m.%Y"],
    "initial": timezone.localdate,
}


class DetailsForm(forms.Form):
    full_name = forms.CharField(label=_("Ф.И.О. администратора"), max_length=300)
    position = forms.CharField(label=_("Должность"), max_length=300, required=False)
    phone = mobile_phone_field(
        _("Мобильный телефон администратора"),
        required=True,
        help_text=_("На этот номер «Сферум» выдаст права администратора, например %(example)s.")
        % {"example": RUSSIAN_MOBILE_EXAMPLE},
    )


class ScanForm(forms.Form):
    scan = forms.FileField(
        label=_("Скан подписанного письма"),
        help_text=_("PDF, JPEG или PNG, не больше 10 МБ. С подписью руководителя и печатью."),
        error_messages={"required": _("Приложите скан подписанного письма (PDF, JPEG или PNG).")},
    )
    questionnaire_filled_on = forms.DateField(
        label=_("Анкета организации заполнена (дата)"),
        help_text=_("Анкета заполняется в электронном виде по ссылке из Положения."),
        **DATE_INPUT,
    )


class DateForm(forms.Form):
    date = forms.DateField(label=_("Дата"), **DATE_INPUT)


class SentForm(DateForm):
    date = forms.DateField(label=_("Дата отправки письма"), **DATE_INPUT)


class RegisteredForm(DateForm):
    date = forms.DateField(label=_("Дата получения прав администратора"), **DATE_INPUT)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Что просят исправить"),
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Укажите, что «Сферум» просит исправить.")},
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Причина отмены"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
