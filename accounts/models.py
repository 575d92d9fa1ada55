from __future__ import annotations

import zoneinfo
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from cdt_portal.models import Delivery
from cdt_portal.validators import single_line

from .gender import gender_of, gender_suffix
from .messenger import MessengerTexts, is_max_link, texts_for
from .validators import validate_russian_mobile

# Russia's time zones with the names people use for them.
RUSSIAN_TIME_ZONES = [
    ("Europe/Kaliningrad", _("Калининград (МСК−1)")),
    ("Europe/Moscow", _("Москва (МСК)")),
    ("Europe/Samara", _("Самара (МСК+1)")),
    ("Asia/Yekaterinburg", _("Екатеринбург (МСК+2)")),
    ("Asia/Omsk", _("Омск (МСК+3)")),
    ("Asia/Novosibirsk", _("Новосибирск (МСК+4)")),
    ("Asia/Krasnoyarsk", _("Красноярск (МСК+4)")),
    ("Asia/Irkutsk", _("Иркутск (МСК+5)")),
    ("Asia/Yakutsk", _("Якутск (МСК+6)")),
    ("Asia/Vladivostok", _("Владивосток (МСК+7)")),
    ("Asia/Magadan", _("Магадан (МСК+8)")),
    ("Asia/Kamchatka", _("Петропавловск-Камчатский (МСК+9)")),
]


class Messenger(models.TextChoices):
    """Where Sferum's учебный профиль lives; it moves from VK Messenger to MAX (2025-2026)."""

    VK = "vk", _("VK Мессенджер")
    MAX = "max", _("MAX")
    # Both, until `Organisation.max_only_from`; from that date MAX is the only one.
    TRANSITION = "transition", _("переход: VK Мессенджер и MAX")


def validate_registration_link(value: str) -> None:
    """The organisation's Sferum registration page: an https address."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or "." not in parts.netloc:
        raise ValidationError(
            _("Ссылка на страницу регистрации должна начинаться с https://."),
            code="not_https",
        )


class Department(models.Model):
    """A municipal education department (управление / отдел образования): it follows the
    rollout of the institutions under it, by their numbers and their administrators' names,
    never their people."""

    slug = models.SlugField(_("код в адресе"), unique=True)
    full_name = models.CharField(_("полное наименование"), max_length=500, validators=[single_line])
    short_name = models.CharField(
        _("краткое наименование"), max_length=200, validators=[single_line]
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(_("телефон"), blank=True)

    class Meta:
        verbose_name = _("управление образования")
        verbose_name_plural = _("управления образования")
        ordering = ["short_name"]

    def __str__(self) -> str:
        return self.short_name


class Organisation(models.Model):
    """An educational institution. Every other record belongs to exactly one."""

    slug = models.SlugField(_("код в адресе"), unique=True)
    full_name = models.CharField(_("полное наименование"), max_length=500, validators=[single_line])
    short_name = models.CharField(
        _("краткое наименование"), max_length=200, validators=[single_line]
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("управление образования"),
        on_delete=models.PROTECT,
        related_name="organisations",
        null=True,
        blank=True,
    )
    head_position = models.CharField(
        _("должность руководителя"), max_length=200, default="Директор", validators=[single_line]
    )
    head_name = models.CharField(
        _("руководитель (как в подписи)"),
        max_length=200,
        validators=[single_line],
        help_text=_("Инициалы и фамилия, как печатаются в документах: «О.Б. Денисенко»."),
    )
    address = models.CharField(_("адрес"), max_length=500, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(_("телефон"), blank=True)
    region = models.CharField(_("регион"), max_length=200, blank=True)
    time_zone = models.CharField(
        _("часовой пояс"), max_length=64, choices=RUSSIAN_TIME_ZONES, default="Europe/Moscow"
    )
    messenger = models.CharField(
        _("мессенджер учебного профиля «Сферум»"),
        max_length=10,
        choices=Messenger.choices,
        # Sferum's учебный профиль lives in MAX from 25.08.2025: a new organisation starts
        # there (a deployment still on VK chooses so in the settings page).
        default=Messenger.MAX,
    )
    max_only_from = models.DateField(
        _("с какого дня только MAX"),
        null=True,
        blank=True,
        help_text=_("Для перехода: с этого дня учебный профиль «Сферума» — только в MAX."),
    )
    # When `messenger` last changed (set by accounts.services.organisation_update): a parents'
    # notice published before it is out of date.
    messenger_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    registration_link = models.URLField(
        _("ссылка на страницу регистрации обучающихся в «Сферуме»"),
        max_length=500,
        blank=True,
        validators=[validate_registration_link],
        help_text=_(
            "Ссылка, по которой обучающиеся регистрируются в «Сферуме» в вашей организации "
            "(п. 4.13 Положения). Обучающиеся увидят её первой на своей странице."
        ),
    )
    # Raised (with an F() update) by the accounts services that change what an acknowledgement
    # sheet prints of the organisation or its people: names, positions, roles, activation, the
    # organisation's details. Part of the stored sheet's name (acknowledgements.sheet).
    people_revision = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("организация")
        verbose_name_plural = _("организации")
        ordering = ["short_name"]

    def __str__(self) -> str:
        return self.short_name

    def clean(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"time_zone": _("Неизвестный часовой пояс.")}) from exc
        if self.messenger == Messenger.TRANSITION and self.max_only_from is None:
            raise ValidationError(
                {"max_only_from": _("Для перехода укажите дату, с которой остаётся только MAX.")}
            )

    @property
    def messenger_texts(self) -> MessengerTexts:
        """Every sentence about the messenger, for this organisation's state
        (`accounts.messenger.MessengerTexts`)."""
        return texts_for(self.messenger, self.max_only_from)

    @property
    def messenger_name(self) -> str:
        return self.messenger_texts.name

    @property
    def messenger_name_in(self) -> str:
        """The messenger's name with its preposition, after «доступен» or «работает»: «в VK
        Мессенджере», «в MAX» (`MessengerTexts.where`); a template writes no «в» before it."""
        return self.messenger_texts.where

    @property
    def platform_administrators(self) -> models.QuerySet[User]:
        return (
            User.objects.active_in(self).with_role(Role.ADMIN).order_by("last_name", "first_name")
        )


class Role(models.TextChoices):
    DIRECTOR = "director", _("руководитель")
    ADMIN = "admin", _("администратор ИКОП «Сферум»")
    TEACHER = "teacher", _("педагог")
    STUDENT = "student", _("обучающийся")
    PARENT = "parent", _("родитель (законный представитель)")
    # Someone of an education department (`User.department`), not of an institution.
    DEPARTMENT = "department", _("специалист управления образования")


STAFF_ROLES = frozenset({Role.DIRECTOR, Role.ADMIN, Role.TEACHER})
# The roles people of an institution hold (the department role belongs to no institution).
INSTITUTION_ROLE_CHOICES = [(v, label) for v, label in Role.choices if v != Role.DEPARTMENT]


class UserQuerySet(models.QuerySet):
    def active_in(self, organisation: Organisation) -> UserQuerySet:
        return self.filter(organisation=organisation, is_active=True)

    def with_role(self, *roles: str) -> UserQuerySet:
        """People holding any of `roles`. EXISTS, not a join: no duplicates to DISTINCT away,
        and counting thousands of people stays cheap."""
        return self.filter(Exists(UserRole.objects.filter(user=OuterRef("pk"), role__in=roles)))

    # Case aside, a username or an e-mail is compared as the unique constraints compare them,
    # LOWER on both sides: PostgreSQL then reads their indexes instead of scanning every person
    # (`iexact` compares UPPER, which no index serves: tests/signin/test_login_index.py). The
    # e-mail index holds only non-empty addresses, so the e-mail's side says so too.
    def by_username(self, name: str) -> UserQuerySet:
        return self.alias(username_ci=Lower("username")).filter(username_ci=_lower(name))

    def by_email(self, email: str) -> UserQuerySet:
        return self.alias(email_ci=Lower("email")).filter(email_ci=_lower(email)).exclude(email="")

    def by_login(self, login: str) -> UserQuerySet:
        """The person a sign-in's username-or-e-mail names."""
        value = _lower(login)
        return self.alias(username_ci=Lower("username"), email_ci=Lower("email")).filter(
            Q(username_ci=value) | (Q(email_ci=value) & ~Q(email=""))
        )


def _lower(text: str) -> Lower:
    # Lowered by the database, not by Python: SQLite's LOWER folds ASCII only, so a value
    # lowered in Python would no longer match a Cyrillic name stored with capitals there.
    return Lower(Value(text, output_field=models.CharField()))


class PortalUserManager(UserManager.from_queryset(UserQuerySet)):
    def get_by_natural_key(self, username: str) -> User:
        return self.by_username(username).get()


class User(AbstractUser):
    """A person: staff member, student or parent. Belongs to one organisation.

    The platform's superuser (Django admin) may have no organisation.
    """

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("организация"),
        on_delete=models.PROTECT,
        related_name="users",
        null=True,
        blank=True,
    )
    # Only for the department role: the department whose institutions the person follows.
    # Such a person belongs to no organisation.
    department = models.ForeignKey(
        Department,
        verbose_name=_("управление образования"),
        on_delete=models.PROTECT,
        related_name="officers",
        null=True,
        blank=True,
    )
    last_name = models.CharField(_("фамилия"), max_length=150, validators=[single_line])
    first_name = models.CharField(_("имя"), max_length=150, validators=[single_line])
    patronymic = models.CharField(
        _("отчество"), max_length=150, blank=True, validators=[single_line]
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = PhoneNumberField(
        _("мобильный телефон"), blank=True, validators=[validate_russian_mobile]
    )
    position = models.CharField(
        _("должность"), max_length=300, blank=True, validators=[single_line]
    )
    # Raised by the services when a person is deactivated or loses a role: it is part of the
    # session hash, so every session the person had stops working at its next request, and a
    # later reactivation does not bring the old sessions back.
    session_version = models.PositiveIntegerField(default=0, editable=False)

    objects = PortalUserManager()

    REQUIRED_FIELDS = ["email", "last_name", "first_name"]

    class Meta:
        verbose_name = _("пользователь")
        verbose_name_plural = _("пользователи")
        ordering = ["last_name", "first_name", "patronymic"]
        indexes = [
            # A page of an organisation's people in their usual order, read from the index
            # instead of sorting 50,000 people for each page.
            models.Index(
                fields=["organisation", "last_name", "first_name", "patronymic"],
                name="user_org_name",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_when_present",
                violation_error_message=_("Этот e-mail уже указан у другого пользователя."),
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_ci",
                violation_error_message=_("Это имя пользователя уже занято."),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def full_name(self) -> str:
        """Ф.И.О. in the order Russian documents list people: Иванова Софья Николаевна."""
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p)

    @property
    def short_name(self) -> str:
        """Initials before the surname, as under a signature: С.Н. Иванова."""
        initials = "".join(_initial(p) for p in (self.first_name, self.patronymic) if p)
        return f"{initials} {self.last_name}".strip()

    @property
    def gender(self) -> str | None:
        """`accounts.gender.MALE`, `FEMALE`, or None where the patronymic does not tell."""
        return gender_of(self.patronymic)

    @property
    def gender_suffix(self) -> str:
        """What a masculine past form takes for this person: «», «а», or «(а)» where the gender
        is not known. In templates: ``ознакомлен{{ person.gender_suffix }}``."""
        return gender_suffix(self.gender)

    def get_full_name(self) -> str:
        return self.full_name

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's HMAC of the password hash, with the session version folded in. Version 0
        gives Django's own value, so sessions opened before this field existed stay valid."""
        if not self.session_version:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}:{self.session_version}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_short_name(self) -> str:
        return self.short_name

    @cached_property
    def roles(self) -> frozenset[str]:
        if not self.pk:
            return frozenset()
        # .all() uses prefetch_related("user_roles") when a list view asked for it.
        return frozenset(link.role for link in self.user_roles.all())

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff_member(self) -> bool:
        return self.has_role(*STAFF_ROLES)

    def role_labels(self) -> list[str]:
        return [label for value, label in Role.choices if value in self.roles]


def _initial(name: str) -> str:
    name = name.strip()
    if name.endswith("."):
        return name  # already an initial, as in the seed's «О.Б. Денисенко»
    return f"{name[0]}."


class Invitation(models.Model):
    """A one-time link to choose a password. Only the newest one of a person works."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    expires_at = models.DateTimeField(_("действует до"))
    used_at = models.DateTimeField(_("использовано"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    emailed_to = models.EmailField(_("отправлено на e-mail"), blank=True)
    # A director or an administrator proves the mailbox before the link opens their account
    # (a printed slip alone never does): the newest code sent there, as a keyed hash.
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_to = models.EmailField(blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("приглашение")
        verbose_name_plural = _("приглашения")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user}: {self.created_at:%d.%m.%Y}"


class ImportBatch(models.Model):
    """An uploaded staff list between its preview and the administrator's confirmation."""

    class Status(models.TextChoices):
        PENDING = "pending", _("ожидает подтверждения")
        # Confirmed: a job is adding the people (`services.import_apply_run`).
        APPLYING = "applying", _("добавляются люди")
        APPLIED = "applied", _("загружен")
        CANCELLED = "cancelled", _("отменён")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=300)
    content = models.BinaryField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.TEACHER)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # What the parse job found (`accounts.staff_import.stored_preview`): the preview page only
    # reads this. None while the job is still reading the file.
    preview = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("загрузка списка")
        verbose_name_plural = _("загрузки списков")

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class UserRole(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="user_roles")
    role = models.CharField(_("роль"), max_length=20, choices=Role.choices)
    # When the role was given: a new member of staff's clock for the documents they must read
    # (`Document.new_staff_days`). Empty for roles given before this was recorded.
    granted_at = models.DateTimeField(_("назначена"), auto_now_add=True, null=True)

    class Meta:
        verbose_name = _("роль")
        verbose_name_plural = _("роли")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="user_role_once"),
        ]
        indexes = [
            # The few holders of a role (an organisation's administrators, the department's
            # people) found from the role, not by checking each of 50,000 people.
            models.Index(fields=["role", "user"], name="user_role_by_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_role_display()}"


class Guardianship(models.Model):
    """A parent (законный представитель) of a student; a student may have several."""

    parent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="children_links")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="parent_links")

    class Meta:
        verbose_name = _("законное представительство")
        verbose_name_plural = _("законные представители")
        constraints = [
            models.UniqueConstraint(fields=["parent", "student"], name="guardianship_once"),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("student")),
                name="guardianship_not_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent} → {self.student}"


def validate_invite_link(value: str) -> None:
    """A chat invite link must be an https address (Sferum gives one per chat)."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or "." not in parts.netloc:
        raise ValidationError(
            _(
                "Ссылка-приглашение должна начинаться с https:// и вести на сайт, например "
                "https://sferum.ru/?invite=…"
            ),
            code="not_https",
        )


def validate_max_invite_link(value: str) -> None:
    """A MAX chat invite link: an https address on max.ru (https://max.ru/join/…)."""
    validate_invite_link(value)
    if not is_max_link(value):
        raise ValidationError(
            _("Ссылка-приглашение в MAX должна вести на max.ru, например https://max.ru/join/…"),
            code="not_max",
        )


class StudyGroup(models.Model):
    """A творческое объединение: its teachers and students, and its Sferum chat."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="groups")
    name = models.CharField(_("название"), max_length=300, validators=[single_line])
    teachers = models.ManyToManyField(
        User, verbose_name=_("педагоги"), related_name="taught_groups", blank=True
    )
    students = models.ManyToManyField(
        User, verbose_name=_("обучающиеся"), related_name="study_groups", blank=True
    )
    chat_invite_link = models.URLField(
        _("ссылка-приглашение в чат «Сферума»"),
        max_length=500,
        blank=True,
        validators=[validate_invite_link],
        help_text=_("Создайте чат объединения в «Сферуме» и вставьте ссылку-приглашение."),
    )
    max_invite_link = models.URLField(
        _("ссылка-приглашение в чат в MAX"),
        max_length=500,
        blank=True,
        validators=[validate_max_invite_link],
        help_text=_("Для перехода в MAX: ссылка вида https://max.ru/join/…"),
    )

    class Meta:
        verbose_name = _("объединение")
        verbose_name_plural = _("объединения")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"],
                name="group_name_unique_in_organisation",
                violation_error_message=_("Объединение с таким названием уже есть."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InvitationMailing(models.Model):
    """Invitations sent by e-mail to several people (or one) by one background job. `key` is
    the job's key: two presses of the button create one mailing (a unique constraint), so
    nobody gets two letters from one decision."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    key = models.CharField(max_length=200, unique=True)
    # sha256 of what was asked (who, and whether it retries an earlier mailing): a second
    # press while the first mailing is still going finds it by this.
    people_hash = models.CharField(max_length=64, db_index=True)
    # Where the links in the letters point (the address the administrator used).
    base_url = models.CharField(max_length=300)

    class Meta:
        verbose_name = _("рассылка приглашений")
        verbose_name_plural = _("рассылки приглашений")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Рассылка приглашений от {timezone.localtime(self.created_at):%d.%m.%Y %H:%M}"

    @property
    def batch(self) -> str:
        """Its letters' batch in the outbox (`cdt_portal.outbox`)."""
        return f"invitations:{self.pk}"

    @property
    def deliveries(self):
        """Its letters, one per person, in the outbox."""
        return Delivery.objects.filter(batch=self.batch)
