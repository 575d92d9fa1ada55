from django import forms
from django.utils.translation import gettext_lazy as _


class MessageForm(forms.Form):
    subject = forms.CharField(
        label=_("Тема"),
        max_length=200,
        error_messages={
            "required": _("Укажите тему сообщения."),
            "max_length": _("Тема — не длиннее 200 знаков."),
        },
    )
    text = forms.CharField(
        label=_("Текст"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Его увидят администраторы ИКОП «Сферум» всех организаций управления."),
        error_messages={
            "required": _("Напишите текст сообщения."),
            "max_length": _("Текст — не длиннее 5000 знаков."),
        },
    )
