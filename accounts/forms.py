from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from .models import Organisation, User
from .validators import RUSSIAN_MOBILE_EXAMPLE, validate_russian_mobile


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Имя пользователя или e-mail"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {
        # Says nothing about whether such a person exists.
        "invalid_login": _(
            "Неверное имя пользователя (e-mail) или пароль. "
            "Проверьте раскладку клавиатуры и регистр букв."
        ),
        "inactive": _("Эта учётная запись отключена. Обратитесь к администратору портала."),
    }


class ProfileForm(forms.ModelForm):
    phone = PhoneNumberField(
        label=_("Мобильный телефон"),
        required=False,
        region="RU",
        validators=[validate_russian_mobile],
        help_text=_("Например, %(example)s") % {"example": RUSSIAN_MOBILE_EXAMPLE},
    )

    class Meta:
        model = User
        fields = ["email", "phone"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class OrganisationForm(forms.ModelForm):
    phone = PhoneNumberField(label=_("Телефон"), required=False, region="RU")

    class Meta:
        model = Organisation
        fields = [
            "full_name",
            "short_name",
            "head_position",
            "head_name",
            "address",
            "email",
            "phone",
            "region",
            "time_zone",
            "messenger",
        ]
        widgets = {
            "full_name": forms.Textarea(attrs={"rows": 2}),
            "address": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "messenger": _(
                "Где живёт учебный профиль «Сферума». Это название появится во всех "
                "инструкциях для обучающихся и родителей."
            ),
        }
