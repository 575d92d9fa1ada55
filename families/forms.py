"""The forms of the families' side: the consent's details (152-ФЗ ст. 9 ч. 4), a paper consent
recorded by an administrator, and a family's other channel."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import AuthorityDocument, ConsentAction, FamilyChannel, IdentityDocument

PAST_DATE = {
    "widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    "input_formats": ["%Y-%m-%d", "%d.%m.%Y"],
}


def _not_in_future(value):
    if value and value > timezone.localdate():
        raise ValidationError(_("Дата не может быть в будущем."))


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def _clean_identity_document(form: forms.Form, data: dict) -> None:
    """A passport's series (4 digits, stored «45 12») and number (6 digits) checked and
    normalised; another document may have no series («—» is stored). The parent's consent and
    a student's own share it."""
    if data.get("id_document") == IdentityDocument.PASSPORT:
        series, number = _digits(data.get("id_series", "")), _digits(data.get("id_number", ""))
        # Left empty, the series has the field's own «Обязательное поле.».
        if "id_series" in data and not re.fullmatch(r"\d{4}", series):
            form.add_error("id_series", _("Серия паспорта — 4 цифры, например 45 12."))
        elif "id_series" in data:
            data["id_series"] = f"{series[:2]} {series[2:]}"
        if "id_number" in data and not re.fullmatch(r"\d{6}", number):
            form.add_error("id_number", _("Номер паспорта — 6 цифр, например 123456."))
        elif "id_number" in data:
            data["id_number"] = number
    elif not data.get("id_series"):
        data["id_series"] = "—"


# A series is required for the documents that have one (the passport, the birth certificate: the
# first choices, so the defaults), and the field says so as every required field does (crispy
# forms' asterisk); another document may have none («—» is stored).
PASSPORT_SERIES = {
    "id_series": ("id_document", IdentityDocument.PASSPORT, _("Обязательна для паспорта РФ.")),
}


def _mark_series_required(form: forms.Form) -> None:
    for series, (document, with_series, note) in form.SERIES_REQUIRED.items():
        chosen = form[document].value() or form.fields[document].choices[0][0]
        form.fields[series].required = chosen == with_series
        form.fields[series].help_text = note


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

    SERIES_REQUIRED = {
        **PASSPORT_SERIES,
        "authority_series": (
            "authority_document",
            AuthorityDocument.BIRTH_CERTIFICATE,
            _("Обязательна для свидетельства о рождении."),
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _mark_series_required(self)

    def clean(self):
        data = super().clean()
        _clean_identity_document(self, data)
        if data.get("authority_document") == AuthorityDocument.BIRTH_CERTIFICATE:
            series = (data.get("authority_series") or "").strip().upper().replace(" ", "")
            if "authority_series" in data and not re.fullmatch(r"[IVXLC1]{1,6}-?[А-ЯЁ]{2}", series):
                self.add_error(
                    "authority_series",
                    _(
                        "Серия свидетельства о рождении — римские цифры и две буквы, "
                        "например IV-МЮ."
                    ),
                )
            elif "authority_series" in data:
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


class StudentConsentForm(forms.Form):
    """A student's own consent (from 14, ГК РФ ст. 26): their name, date of birth, address and
    identity document, signed with their password."""

    full_name = forms.CharField(label=_("Ф.И.О."), max_length=300)
    birth_date = forms.DateField(
        label=_("Дата рождения"),
        validators=[_not_in_future],
        help_text=_(
            "С 14 лет вы даёте согласие сами, вместе с согласием родителя; до 14 лет — только "
            "родитель (законный представитель)."
        ),
        **PAST_DATE,
    )
    address = forms.CharField(label=_("Адрес регистрации (проживания)"), max_length=500)
    id_document = forms.ChoiceField(
        label=_("Документ, удостоверяющий личность"), choices=IdentityDocument.choices
    )
    id_series = forms.CharField(label=_("Серия"), max_length=20, required=False)
    id_number = forms.CharField(label=_("Номер"), max_length=30)
    id_issued_on = forms.DateField(label=_("Дата выдачи"), validators=[_not_in_future], **PAST_DATE)
    id_issued_by = forms.CharField(label=_("Кем выдан"), max_length=500)
    terms = forms.BooleanField(
        label=_("Принимаю условия использования простой электронной подписи"), required=False
    )
    password = forms.CharField(
        label=_("Ваш пароль от портала — это ваша подпись под согласием"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    SERIES_REQUIRED = PASSPORT_SERIES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _mark_series_required(self)

    def clean(self):
        data = super().clean()
        _clean_identity_document(self, data)
        born, issued = data.get("birth_date"), data.get("id_issued_on")
        if born and issued and issued < born:
            self.add_error("id_issued_on", _("Документ не может быть выдан раньше рождения."))
        return data


class FamilyChoiceForm(forms.Form):
    channel = forms.ChoiceField(label=_("Как с вами связываться"), choices=FamilyChannel.choices)
    contact = forms.CharField(
        label=_("Телефон или e-mail"),
        max_length=300,
        required=False,
        help_text=_("Для связи по телефону или по электронной почте."),
    )
