import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from cdt_portal.markup import IMAGES_REFUSED, image_sources

from .models import DocumentVersion


class ConfirmForm(forms.Form):
    read = forms.BooleanField(
        label=_("С Положением ознакомлен(а)"),
        error_messages={"required": _("Отметьте, что вы ознакомились с Положением.")},
    )
    password = forms.CharField(
        label=_("Ваш пароль"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Пароль нужен ещё раз, чтобы подтверждение было именно вашим."),
    )


class PaperForm(forms.Form):
    person = forms.ModelChoiceField(
        label=_("Сотрудник"),
        queryset=User.objects.none(),
        error_messages={"invalid_choice": _("Выберите сотрудника из списка.")},
    )
    paper_date = forms.DateField(
        label=_("Дата подписи на бумажном листе"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
    )

    def __init__(self, *args, people, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people
        self.fields["person"].empty_label = _("— выберите сотрудника —")
        self.fields["person"].label_from_instance = lambda p: p.full_name


TEXT_HELP_ID = "version-text-help"


class VersionForm(forms.ModelForm):
    order_date = forms.DateField(
        label=_("Дата приказа"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
    )

    class Meta:
        model = DocumentVersion
        fields = [
            "title",
            "order_number",
            "order_date",
            "approver_position",
            "approver_name",
            "text",
        ]
        # Plain words, not «Markdown»: how to write a list, bold or a link is shown under the
        # field by templates/_markup_help.html (id TEXT_HELP_ID, the last thing of the form).
        widgets = {
            "text": forms.Textarea(attrs={"rows": 20, "aria-describedby": TEXT_HELP_ID}),
        }
        labels = {"text": _("Текст Положения")}
        help_texts = {"text": ""}

    def clean_order_date(self) -> dt.date:
        value = self.cleaned_data["order_date"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("Дата приказа не может быть позже сегодняшней."))
        return value

    def clean_text(self) -> str:
        # The service refuses it too; here the message lands beside the text, with the rest
        # of the form kept as typed.
        value = self.cleaned_data["text"]
        if image_sources(value):
            raise forms.ValidationError(IMAGES_REFUSED)
        return value


class ApproveForm(forms.Form):
    """The director's approval: a substantive version (everyone asked again) or an editorial
    correction (nobody asked again), the latter with its reason."""

    editorial = forms.BooleanField(
        label=_("Редакционная правка: не просить сотрудников ознакомиться заново"),
        required=False,
        help_text=_(
            "Только для исправлений, не меняющих смысла (опечатки, оформление, реквизиты). "
            "Ознакомление с действующей редакцией будет засчитано для новой."
        ),
    )
    editorial_reason = forms.CharField(
        label=_("Почему правка редакционная"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self):
        data = super().clean()
        if data.get("editorial") and not (data.get("editorial_reason") or "").strip():
            self.add_error(
                "editorial_reason",
                _("Укажите, почему правка редакционная и не требует нового ознакомления."),
            )
        return data


class DeadlineForm(forms.Form):
    read_by = forms.DateField(
        label=_("Срок ознакомления"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        help_text=_("Пустое поле — срок снят."),
    )
