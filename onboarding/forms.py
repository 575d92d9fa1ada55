"""The forms of the registration request's steps and of the §5.1 checklist."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms import mobile_phone_field
from accounts.validators import RUSSIAN_MOBILE_EXAMPLE

from .models import AmendmentState

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


# Said by the form and, for a request without the file, by `cdt_portal.uploads.check_upload`.
SCAN_MISSING = _("Приложите скан подписанного письма (PDF, JPEG или PNG).")


class ScanForm(forms.Form):
    scan = forms.FileField(
        label=_("Скан подписанного письма"),
        help_text=_("PDF, JPEG или PNG, не больше 10 МБ. С подписью руководителя и печатью."),
        error_messages={"required": SCAN_MISSING},
    )
    questionnaire_filled_on = forms.DateField(
        label=_("Анкета организации заполнена (дата)"),
        help_text=_("Анкета заполняется в электронном виде по ссылке из Положения."),
        **DATE_INPUT,
    )
    # The letter the page offered to print: one made anew meanwhile (another administrator
    # changed the details) is not the one this scan shows signed (the service refuses).
    letter = forms.CharField(widget=forms.HiddenInput)


class DateForm(forms.Form):
    date = forms.DateField(label=_("Дата"), **DATE_INPUT)


class SentForm(DateForm):
    date = forms.DateField(label=_("Дата отправки письма"), **DATE_INPUT)


class RegisteredForm(DateForm):
    date = forms.DateField(label=_("Дата получения прав администратора"), **DATE_INPUT)
    signed_in_confirmed = forms.BooleanField(
        label=_("Вход в «Сферум» выполнен с номером телефона, указанным в письме о назначении"),
        error_messages={
            "required": _(
                "Подтвердите, что вы вошли в «Сферум» с номером телефона, указанным в письме."
            )
        },
    )


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


# Issue 12, §5.1: the checklist of local acts and programmes to amend.


class AmendmentForm(forms.Form):
    """Its fields are the keyword arguments of the checklist's update services."""

    state = forms.ChoiceField(label=_("Состояние"), choices=AmendmentState.choices)
    amended_on = forms.DateField(
        label=_("Дата изменения"),
        required=False,
        help_text=_("Для «изменения внесены»; без даты — сегодня."),
        widget=DATE_INPUT["widget"],
        input_formats=DATE_INPUT["input_formats"],
    )
    note = forms.CharField(
        label=_("Примечание"), max_length=1000, required=False, widget=forms.TextInput()
    )


class AmendmentActForm(forms.Form):
    title = forms.CharField(
        label=_("Локальный акт"),
        max_length=300,
        help_text=_("Например: «Положение о дистанционном обучении»."),
        error_messages={"required": _("Укажите название локального акта.")},
    )
