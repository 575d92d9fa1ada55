import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import STAFF_ROLES, Role, StudyGroup, User
from cdt_portal.markup import IMAGES_REFUSED, image_sources

from .models import REGULATION_CODE, Audience, DocumentKind, DocumentVersion

TEXT_HELP_ID = "version-text-help"


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

    def __init__(self, *args, document=None, person=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # In the reader's own gender, as the stamp after it («Ознакомлена»); «(а)» only where
        # the patronymic does not tell.
        suffix = person.gender_suffix if person is not None else "(а)"
        self.fields["read"].label = f"С Положением ознакомлен{suffix}"
        # The regulation keeps its words; the agreement is accepted; any other act is read.
        if document is not None and document.is_agreement:
            self.fields["read"].label = f"Соглашение прочитал{suffix} и принимаю"
            self.fields["read"].error_messages["required"] = _(
                "Отметьте, что вы принимаете соглашение."
            )
        elif document is not None and document.code != REGULATION_CODE:
            self.fields["read"].label = f"С документом ознакомлен{suffix}"
            self.fields["read"].error_messages["required"] = _(
                "Отметьте, что вы ознакомились с документом."
            )


DATE_INPUT = {
    "widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    "input_formats": ["%Y-%m-%d", "%d.%m.%Y"],
}


class DocumentForm(forms.Form):
    """A new local act: what it is, who must read it and by when, and its first draft."""

    title = forms.CharField(label=_("Название"), max_length=500)
    kind = forms.ChoiceField(label=_("Вид документа"), choices=DocumentKind.choices)
    audience = forms.ChoiceField(
        label=_("Кто знакомится"),
        choices=Audience.choices,
        initial=Audience.ALL_STAFF,
        widget=forms.RadioSelect,
        help_text=_("«Все сотрудники» — педагоги и администраторы; руководитель утверждает."),
    )
    audience_roles = forms.MultipleChoiceField(
        label=_("Роли"), required=False, widget=forms.CheckboxSelectMultiple
    )
    audience_groups = forms.ModelMultipleChoiceField(
        label=_("Объединения (их педагоги)"),
        queryset=StudyGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    audience_people = forms.ModelMultipleChoiceField(
        label=_("Сотрудники"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    read_by = forms.DateField(label=_("Срок ознакомления"), required=False, **DATE_INPUT)
    new_staff_days = forms.IntegerField(
        label=_("Новым сотрудникам — в течение, дней"),
        required=False,
        min_value=1,
        max_value=365,
        help_text=_("Отсчёт — со дня, когда человеку назначена роль сотрудника."),
    )
    order_number = forms.CharField(label=_("Номер приказа"), max_length=50)
    order_date = forms.DateField(label=_("Дата приказа"), **DATE_INPUT)
    approver_position = forms.CharField(label=_("Должность утверждающего"), max_length=200)
    approver_name = forms.CharField(label=_("Утверждающий (инициалы и фамилия)"), max_length=200)
    text = forms.CharField(
        label=_("Текст документа"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "aria-describedby": TEXT_HELP_ID}),
    )
    source_pdf = forms.FileField(
        label=_("…или файл документа (PDF)"),
        required=False,
        help_text=_("Вместо текста: сотрудники откроют этот файл, он войдёт в приказ."),
    )

    def __init__(self, *args, organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audience_roles"].choices = [
            (role, label) for role, label in Role.choices if role in STAFF_ROLES
        ]
        self.fields["audience_groups"].queryset = StudyGroup.objects.filter(
            organisation=organisation
        ).order_by("name")
        people = User.objects.active_in(organisation).with_role(*STAFF_ROLES)
        self.fields["audience_people"].queryset = people.order_by(
            "last_name", "first_name", "patronymic"
        )
        self.fields["audience_people"].label_from_instance = lambda p: p.full_name

    def clean_read_by(self):
        value = self.cleaned_data["read_by"]
        if value is not None and value < timezone.localdate():
            raise forms.ValidationError(
                _("Срок ознакомления не может быть раньше сегодняшнего дня.")
            )
        return value

    def clean_order_date(self) -> dt.date:
        value = self.cleaned_data["order_date"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("Дата приказа не может быть позже сегодняшней."))
        return value

    def clean_text(self) -> str:
        value = self.cleaned_data["text"]
        if image_sources(value):
            raise forms.ValidationError(IMAGES_REFUSED)
        return value

    def clean(self):
        data = super().clean()
        needed = {
            Audience.ROLES: ("audience_roles", _("Отметьте хотя бы одну роль.")),
            Audience.GROUPS: ("audience_groups", _("Отметьте хотя бы одно объединение.")),
            Audience.PEOPLE: ("audience_people", _("Отметьте хотя бы одного сотрудника.")),
        }.get(data.get("audience"))
        if needed and not data.get(needed[0]):
            self.add_error(needed[0], needed[1])
        if not (data.get("text") or "").strip() and not data.get("source_pdf"):
            self.add_error("text", _("Введите текст документа или приложите его файл PDF."))
        return data


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
    # The version the page showed: a new one approved while the form was filled in is not
    # the one the paper was signed for (the view refuses the mismatch).
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, people, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people
        self.fields["person"].empty_label = _("— выберите сотрудника —")
        self.fields["person"].label_from_instance = lambda p: p.full_name


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


# A 10,000-row sheet with its log is about 3 MB.
VERIFY_MAX_BYTES = 20 * 1024 * 1024


class VerifyForm(forms.Form):
    file = forms.FileField(
        label=_("Файл листа ознакомления (PDF)"),
        help_text=_("Лист, сформированный порталом: в нём записан журнал подтверждений."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > VERIFY_MAX_BYTES:
            raise forms.ValidationError(_("Файл больше 20 МБ: это не лист ознакомления портала."))
        return upload
