"""The forms of the families' side: the consent's details (152-ФЗ ст. 9 ч. 4), a paper consent
recorded by an administrator, and a family's other channel."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cdt_portal.errors import PortalError

from .models import (
    AuthorityDocument,
    ChildDocument,
    ConsentAction,
    FamilyChannel,
    IdentityDocument,
)
from .selectors import with_child_document

PAST_DATE = {
    "widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    "input_formats": ["%Y-%m-%d", "%d.%m.%Y"],
}


def _not_in_future(value):
    if value and value > timezone.localdate():
        raise ValidationError(_("Дата не может быть в будущем."))


def _digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def _clean_identity_document(form: forms.Form, data: dict, prefix: str = "id") -> None:
    """A passport's series (4 digits, stored «45 12») and number (6 digits) checked and
    normalised, a birth certificate's as `_clean_birth_certificate`; another document may have
    no series («—» is stored). The parent's, the child's (`prefix` «child_id») and a student's
    own document share it."""
    document, series_field, number_field = (
        f"{prefix}_{name}" for name in ("document", "series", "number")
    )
    if data.get(document) == IdentityDocument.PASSPORT:
        series, number = _digits(data.get(series_field, "")), _digits(data.get(number_field, ""))
        # Left empty, the series has the field's own «Обязательное поле.».
        if series_field in data and not re.fullmatch(r"\d{4}", series):
            form.add_error(series_field, _("Серия паспорта — 4 цифры, например 45 12."))
        elif series_field in data:
            data[series_field] = f"{series[:2]} {series[2:]}"
        if number_field in data and not re.fullmatch(r"\d{6}", number):
            form.add_error(number_field, _("Номер паспорта — 6 цифр, например 123456."))
        elif number_field in data:
            data[number_field] = number
    elif data.get(document) == AuthorityDocument.BIRTH_CERTIFICATE:
        _clean_birth_certificate(form, data, prefix)
    elif not data.get(series_field):
        data[series_field] = "—"


def _clean_birth_certificate(form: forms.Form, data: dict, prefix: str) -> None:
    """A birth certificate's series (Roman numerals and two letters, stored «IV-МЮ») and number
    (6 digits): the document proving a parent's authority, or the child's own identity."""
    series_field, number_field = f"{prefix}_series", f"{prefix}_number"
    series = (data.get(series_field) or "").strip().upper().replace(" ", "")
    if series_field in data and not re.fullmatch(r"[IVXLC1]{1,6}-?[А-ЯЁ]{2}", series):
        form.add_error(
            series_field,
            _("Серия свидетельства о рождении — римские цифры и две буквы, например IV-МЮ."),
        )
    elif series_field in data:
        data[series_field] = re.sub(r"^([IVXLC1]+)-?", r"\1-", series)
    number = _digits(data.get(number_field, ""))
    if number_field in data and not re.fullmatch(r"\d{6}", number):
        form.add_error(number_field, _("Номер свидетельства о рождении — 6 цифр."))


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
    child_id_document = forms.ChoiceField(
        label=_("Документ, удостоверяющий личность ребёнка"),
        choices=[
            ("", _("то же свидетельство (до 14 лет)")),
            *ChildDocument.choices,
        ],
        required=False,
        help_text=_(
            "До 14 лет личность ребёнка удостоверяет свидетельство о рождении: если оно же "
            "подтверждает ваши полномочия, оставьте «то же свидетельство» и не заполняйте поля "
            "ниже. С 14 лет — паспорт ребёнка; опекун указывает документ ребёнка."
        ),
    )
    child_id_series = forms.CharField(label=_("Серия"), max_length=20, required=False)
    child_id_number = forms.CharField(label=_("Номер"), max_length=30, required=False)
    child_id_issued_on = forms.DateField(
        label=_("Дата выдачи"), validators=[_not_in_future], required=False, **PAST_DATE
    )
    child_id_issued_by = forms.CharField(label=_("Кем выдан"), max_length=500, required=False)
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
            _clean_birth_certificate(self, data, "authority")
        elif not data.get("authority_series"):
            data["authority_series"] = "—"
        born = data.get("child_birth_date")
        for issued_field in ("authority_issued_on", "child_id_issued_on"):
            issued = data.get(issued_field)
            if born and issued and issued < born:
                self.add_error(
                    issued_field, _("Документ не может быть выдан раньше рождения ребёнка.")
                )
        self._clean_child_document(data)
        return data

    # An online consent names the child's identity document; a paper one is recorded as it
    # was signed (`PaperConsentForm`).
    CHILD_DOCUMENT_REQUIRED = True

    def _clean_child_document(self, data: dict) -> None:
        """The child's own document, when given, is filled in whole; left empty, it is the
        birth certificate below, for a child under 14 (`selectors.with_child_document`, which
        the service applies again with the document's date)."""
        if data.get("child_id_document"):
            for name in ("child_id_number", "child_id_issued_on", "child_id_issued_by"):
                if name in data and not data[name]:
                    self.add_error(name, _("Обязательное поле."))
            if data["child_id_document"] in (
                ChildDocument.PASSPORT,
                ChildDocument.BIRTH_CERTIFICATE,
            ):
                if "child_id_series" in data and not data["child_id_series"]:
                    self.add_error("child_id_series", _("Обязательное поле."))
            _clean_identity_document(self, data, prefix="child_id")
        if self.errors:
            return
        # On the paper's own date for a paper act, as the service checks it.
        day = data.get("signed_on") or timezone.localdate()
        try:
            data.update(with_child_document(data, day, required=self.CHILD_DOCUMENT_REQUIRED))
        except PortalError as exc:
            self.add_error(exc.field, exc.message)


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
    CHILD_DOCUMENT_REQUIRED = False

    def __init__(self, *args, parents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [(p.pk, p.full_name) for p in parents]
        # The administrator copies the paper, which the parent's own wording does not fit.
        self.fields["child_id_document"].help_text = _(
            "Как в бумажном согласии. Если документ ребёнка на бланке не указан, оставьте «то "
            "же свидетельство»: для ребёнка до 14 лет запишется свидетельство о рождении, "
            "подтверждающее полномочия, иначе согласие запишется без документа ребёнка."
        )
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
