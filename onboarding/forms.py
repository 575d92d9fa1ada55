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


# Issue 12, the family side -------------------------------------------------------------------

import re  # noqa: E402

from django.core.exceptions import ValidationError  # noqa: E402

from .models import AuthorityDocument, ConsentAction, FamilyChannel, IdentityDocument  # noqa: E402

PAST_DATE = {
    "widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    "input_formats": ["%Y-%m-%d", "%d.%m.%Y"],
}


def _not_in_future(value):
    if value and value > timezone.localdate():
        raise ValidationError(_("Дата не может быть в будущем."))


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


class ConsentForm(forms.Form):
    """The consent's elements (152-ФЗ ст. 9 ч. 4) a parent fills in; the operator's come from
    the organisation's record."""

    parent_full_name = forms.CharField(
        label=_("Ф.И.О. родителя (законного представителя)"), max_length=300
    )
    parent_address = forms.CharField(label=_("Адрес регистрации (проживания)"), max_length=500)
    id_document = forms.ChoiceField(
        label=_("Документ, удостоверяющий личность"), choices=IdentityDocument.choices
    )
    id_series = forms.CharField(label=_("Серия"), max_length=20, required=False)
    id_number = forms.CharField(label=_("Номер"), max_length=30)
    id_issued_on = forms.DateField(label=_("Дата выдачи"), validators=[_not_in_future], **PAST_DATE)
    id_issued_by = forms.CharField(label=_("Кем выдан"), max_length=500)
    child_full_name = forms.CharField(label=_("Ф.И.О. ребёнка"), max_length=300)
    child_birth_date = forms.DateField(
        label=_("Дата рождения ребёнка"), validators=[_not_in_future], **PAST_DATE
    )
    child_address = forms.CharField(label=_("Адрес ребёнка"), max_length=500)
    authority_document = forms.ChoiceField(
        label=_("Документ, подтверждающий полномочия законного представителя"),
        choices=AuthorityDocument.choices,
    )
    authority_series = forms.CharField(label=_("Серия"), max_length=20, required=False)
    authority_number = forms.CharField(label=_("Номер"), max_length=30)
    authority_issued_on = forms.DateField(
        label=_("Дата выдачи"), validators=[_not_in_future], **PAST_DATE
    )
    authority_issued_by = forms.CharField(label=_("Кем выдан"), max_length=500)

    def clean(self):
        data = super().clean()
        if data.get("id_document") == IdentityDocument.PASSPORT:
            series, number = _digits(data.get("id_series", "")), _digits(data.get("id_number", ""))
            if not re.fullmatch(r"\d{4}", series):
                self.add_error("id_series", _("Серия паспорта — 4 цифры, например 45 12."))
            else:
                data["id_series"] = f"{series[:2]} {series[2:]}"
            if "id_number" in data and not re.fullmatch(r"\d{6}", number):
                self.add_error("id_number", _("Номер паспорта — 6 цифр, например 123456."))
            elif "id_number" in data:
                data["id_number"] = number
        elif not data.get("id_series"):
            data["id_series"] = "—"
        if data.get("authority_document") == AuthorityDocument.BIRTH_CERTIFICATE:
            series = (data.get("authority_series") or "").strip().upper().replace(" ", "")
            if not re.fullmatch(r"[IVXLC1]{1,6}-?[А-ЯЁ]{2}", series):
                self.add_error(
                    "authority_series",
                    _(
                        "Серия свидетельства о рождении — римские цифры и две буквы, "
                        "например IV-МЮ."
                    ),
                )
            else:
                data["authority_series"] = re.sub(r"^([IVXLC1]+)-?", r"\1-", series)
            number = _digits(data.get("authority_number", ""))
            if "authority_number" in data and not re.fullmatch(r"\d{6}", number):
                self.add_error("authority_number", _("Номер свидетельства о рождении — 6 цифр."))
        elif not data.get("authority_series"):
            data["authority_series"] = "—"
        born = data.get("child_birth_date")
        issued = data.get("authority_issued_on")
        if born and issued and issued < born:
            self.add_error(
                "authority_issued_on", _("Документ не может быть выдан раньше рождения ребёнка.")
            )
        return data


class PaperConsentForm(ConsentForm):
    """An administrator records a paper consent or withdrawal with the paper's date; for a
    withdrawal only the parent and the date are needed."""

    action = forms.ChoiceField(label=_("Что записать"), choices=ConsentAction.choices)
    parent = forms.TypedChoiceField(label=_("Родитель (законный представитель)"), coerce=int)
    signed_on = forms.DateField(
        label=_("Дата на бумаге"),
        validators=[_not_in_future],
        initial=timezone.localdate,
        **PAST_DATE,
    )

    field_order = ["action", "parent", "signed_on"]

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [(p.pk, p.full_name) for p in parents]
        if self.data.get("action") == ConsentAction.WITHDRAWN:
            for name in ConsentForm.base_fields:
                self.fields[name].required = False

    def clean(self):
        if self.cleaned_data.get("action") == ConsentAction.WITHDRAWN:
            return self.cleaned_data
        return super().clean()


class FamilyChoiceForm(forms.Form):
    channel = forms.ChoiceField(label=_("Как с вами связываться"), choices=FamilyChannel.choices)
    contact = forms.CharField(
        label=_("Телефон или e-mail"),
        max_length=300,
        required=False,
        help_text=_("Для связи по телефону или по электронной почте."),
    )


class NoticeTextForm(forms.Form):
    text = forms.CharField(label=_("Текст уведомления"), widget=forms.Textarea)


# Issue 12, §5.1: the checklist of local acts and programmes to amend.


class AmendmentForm(forms.Form):
    state = forms.ChoiceField(
        label=_("Состояние"),
        choices=[("todo", _("нужно внести изменения")), ("amended", _("изменения внесены"))],
    )
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
