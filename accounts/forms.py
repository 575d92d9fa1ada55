from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from .messenger import MAX, VK, is_max_link
from .models import Messenger, Organisation, Role, StudyGroup, User
from .roles import contacts_need_password, editable_roles, may_change_contacts
from .services import ORGANISATION_FIELDS
from .validators import RUSSIAN_MOBILE_EXAMPLE, validate_russian_mobile


def mobile_phone_field(label=None, *, required: bool = False, help_text=None) -> PhoneNumberField:
    """A Russian mobile number, typed any usual way, stored in E.164."""
    return PhoneNumberField(
        label=label or _("Мобильный телефон"),
        required=required,
        region="RU",
        validators=[validate_russian_mobile],
        help_text=help_text or _("Например, %(example)s") % {"example": RUSSIAN_MOBILE_EXAMPLE},
    )


def current_password_field(help_text) -> forms.CharField:
    """The actor's own password, asked again before contacts that guard an account change."""
    return forms.CharField(
        label=_("Ваш текущий пароль"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=help_text,
    )


class ProfileForm(forms.ModelForm):
    phone = mobile_phone_field()
    password = current_password_field(_("Нужен, только если вы меняете e-mail или телефон."))

    class Meta:
        model = User
        fields = ["email", "phone"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class OrganisationForm(forms.ModelForm):
    phone = PhoneNumberField(label=_("Телефон"), required=False, region="RU")

    class Meta:
        model = Organisation
        fields = list(ORGANISATION_FIELDS)
        widgets = {
            "full_name": forms.Textarea(attrs={"rows": 2}),
            "address": forms.Textarea(attrs={"rows": 2}),
            "max_only_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "messenger": _(
                "Где живёт учебный профиль «Сферума». От этого зависят все инструкции для "
                "обучающихся и родителей. После смены подготовьте новое уведомление родителям "
                "и новую редакцию Положения — панель напомнит."
            ),
        }

    registration_link = Organisation._meta.get_field("registration_link").formfield(
        assume_scheme="https"
    )

    @property
    def transition_date_shown(self) -> bool:
        """The day MAX alone begins matters only during the transition: in the VK or the MAX
        state the page hides it (an old transition's date stays stored, unchanged, and shows
        again if the transition is chosen; `static/js/organisation_form.js` follows the choice
        in place)."""
        return self["messenger"].value() == Messenger.TRANSITION


class PersonForm(forms.ModelForm):
    """Add or edit a person by hand (the administrator; the director for administrators).

    The checkboxes offer only the roles the actor may grant this person (`accounts.roles`);
    the person's other roles are shown as text and sent back unchanged (`locked_roles`, hidden
    inputs in the template). The field itself accepts every role, so a forged request reaches
    the service, which refuses it and records the attempt.
    """

    phone = mobile_phone_field()
    roles = forms.MultipleChoiceField(
        label=_("Роли"),
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Отметьте хотя бы одну роль.")},
    )
    password = current_password_field(
        _("Нужен, только если вы меняете e-mail или телефон руководителя или администратора.")
    )

    class Meta:
        model = User
        fields = ["last_name", "first_name", "patronymic", "position", "email", "phone"]

    def __init__(self, *args, actor: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        person = self.instance if self.instance.pk else None
        self.editable_roles = editable_roles(actor, person)
        held = person.roles if person is not None else frozenset()
        self.locked_roles = [
            (v, label) for v, label in Role.choices if v in held - self.editable_roles
        ]
        self.fields["roles"].widget.choices = [
            (v, label) for v, label in Role.choices if v in self.editable_roles
        ]
        if self.locked_roles:
            self.fields["roles"].help_text = _("Эти роли меняете не вы: %(roles)s.") % {
                "roles": ", ".join(str(label) for _v, label in self.locked_roles)
            }
        may_contacts = person is None or may_change_contacts(actor, person, held)
        if not may_contacts:
            # Django ignores whatever is posted for a disabled field; the service refuses too.
            for name in ("email", "phone"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _(
                    "Меняет только сам человек (администратору — также руководитель)."
                )
        if person is None or not may_contacts or not contacts_need_password(actor, person, held):
            del self.fields["password"]
        if not self.editable_roles:
            self.fields["roles"].required = False

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_roles(self) -> set[str]:
        return set(self.cleaned_data["roles"])


def invite_link_field(name: str = "chat_invite_link", **kwargs):
    # A link pasted without its scheme is taken as https (Sferum's and MAX's links are).
    return StudyGroup._meta.get_field(name).formfield(assume_scheme="https", **kwargs)


class MessengerLinksForm(forms.ModelForm):
    """A group's chat links: only those the group's pages show for the organisation's messenger
    are asked for (`accounts.messenger.chat_links`): under VK the Sferum chat's, under MAX the
    MAX chat's, both during the move. A link not asked for is kept as it is."""

    def _ask_for_the_messengers_links(self) -> None:
        state = self.instance.organisation.messenger_texts.state
        unused = {VK: "max_invite_link", MAX: "chat_invite_link"}.get(state)
        if unused:
            del self.fields[unused]
        if state == MAX:
            # The model's help speaks of the move («Для перехода в MAX»), long made here.
            self.fields["max_invite_link"].help_text = _("Ссылка вида https://max.ru/join/…")
            if self._max_link_in_the_sferum_field():
                # The pages show it as the MAX link: it is offered here, and saving moves it
                # (`clean`), so it can be changed or removed like any other.
                self.initial["max_invite_link"] = self.instance.chat_invite_link

    def _max_link_in_the_sferum_field(self) -> bool:
        group = self.instance
        return (
            "chat_invite_link" not in self.fields
            and not group.max_invite_link
            and is_max_link(group.chat_invite_link)
        )

    def clean(self):
        data = super().clean()
        if self._max_link_in_the_sferum_field():
            data["chat_invite_link"] = ""
        return data


class GroupForm(MessengerLinksForm):
    """The administrator's form: everything about a group."""

    class Meta:
        model = StudyGroup
        fields = ["name", "teachers", "students", "chat_invite_link", "max_invite_link"]
        widgets = {
            "teachers": forms.CheckboxSelectMultiple,
            "students": forms.SelectMultiple(attrs={"size": 12}),
        }

    chat_invite_link = invite_link_field()
    max_invite_link = invite_link_field("max_invite_link")

    def __init__(self, *args, organisation: Organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.organisation = organisation
        people = User.objects.active_in(organisation)
        self.fields["teachers"].queryset = people.with_role(Role.TEACHER)
        self.fields["students"].queryset = people.with_role(Role.STUDENT)
        for name in ("teachers", "students"):
            self.fields[name].label_from_instance = lambda p: p.full_name
        self._ask_for_the_messengers_links()


class GroupLinkForm(MessengerLinksForm):
    """A teacher keeps their own group's chat invite links (Sferum's and, for MAX, MAX's)."""

    chat_invite_link = invite_link_field()
    max_invite_link = invite_link_field("max_invite_link")

    class Meta:
        model = StudyGroup
        fields = ["chat_invite_link", "max_invite_link"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ask_for_the_messengers_links()


class ParentLinkForm(forms.Form):
    parent = forms.ModelChoiceField(
        label=_("Родитель (законный представитель)"),
        queryset=User.objects.none(),
        error_messages={"invalid_choice": _("Выберите родителя из списка.")},
    )

    def __init__(self, *args, organisation: Organisation, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = User.objects.active_in(organisation).with_role(Role.PARENT)
        self.fields["parent"].label_from_instance = lambda p: p.full_name


class InvitationAcceptForm(SetPasswordForm):
    """A new password by an invitation link; a director or an administrator also types the
    code sent to their e-mail (`services.invitation_code_start`)."""

    code = forms.CharField(
        label=_("Код из письма"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, user, *args, needs_code: bool = False, **kwargs) -> None:
        super().__init__(user, *args, **kwargs)
        if needs_code:
            self.fields["code"].required = True
            self.fields["code"].help_text = _("Шесть цифр из письма с кодом подтверждения.")
        else:
            del self.fields["code"]
