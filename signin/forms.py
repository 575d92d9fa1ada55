from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


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
