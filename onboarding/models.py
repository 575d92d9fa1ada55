"""The Sferum rollout's own records: the registration request and its transition table, the
teachers' Sferum status, the §5.1 checklist and the weekly digest's record. The families' side
(notices, consents, family choices, parents' deadlines) is `families.models`."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from accounts.models import Organisation
from accounts.validators import validate_russian_mobile
from cdt_portal.errors import PortalError


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("Черновик")
    AWAITING_SIGNATURE = "awaiting_signature", _("На подписи")
    READY = "ready", _("Готова к отправке")
    SENT = "sent", _("Отправлена")
    # The SMTP server stopped answering after it may have taken the message: it may or may
    # not have gone. Only the administrator can tell (the mailbox's «Отправленные», or
    # Sferum's answer), so the portal waits for that choice and never re-sends by itself.
    UNCONFIRMED = "unconfirmed", _("Отправка не подтверждена")
    RETURNED = "returned", _("Возвращена на доработку")
    REGISTERED = "registered", _("Зарегистрирована")
    CANCELLED = "cancelled", _("Отменена")


FINAL_STATUSES = (RequestStatus.REGISTERED, RequestStatus.CANCELLED)
OPEN_STATUSES = tuple(s for s in RequestStatus if s not in FINAL_STATUSES)


@dataclass(frozen=True)
class Transition:
    """One action on the request: the states it may be taken from and the state it leads to
    (None: the request keeps its state). `verb` completes «Нельзя …» in a refusal; `refusal`,
    when given, is the whole refusal instead, with `{status}` for the current state."""

    sources: tuple[str, ...]
    target: str | None
    verb: str
    refusal: str = ""


# The one place that says which action is allowed in which state: the services refuse by it
# (`RegistrationRequest.require`) and the request page shows its buttons by it
# (`RegistrationRequest.allowed_actions`).
TRANSITIONS: dict[str, Transition] = {
    "update_details": Transition(
        (RequestStatus.DRAFT, RequestStatus.AWAITING_SIGNATURE, RequestStatus.RETURNED),
        None,
        "изменить данные администратора",
    ),
    "prepare_letter": Transition(
        (RequestStatus.DRAFT, RequestStatus.RETURNED),
        RequestStatus.AWAITING_SIGNATURE,
        "сформировать письмо",
    ),
    "mark_ready": Transition(
        (RequestStatus.AWAITING_SIGNATURE,), RequestStatus.READY, "приложить подписанное письмо"
    ),
    "send": Transition((RequestStatus.READY,), RequestStatus.SENT, "отправить заявку"),
    # From «не подтверждена» the administrator chooses explicitly: the letter arrived, or
    # send it again. A plain «send» is refused there, so a second press sends nothing.
    "confirm_delivered": Transition(
        (RequestStatus.UNCONFIRMED,), RequestStatus.SENT, "отметить, что письмо дошло"
    ),
    "resend": Transition(
        (RequestStatus.UNCONFIRMED,), RequestStatus.SENT, "отправить письмо ещё раз"
    ),
    "download_eml": Transition((RequestStatus.READY,), None, "скачать письмо"),
    "confirm_sent": Transition(
        (RequestStatus.READY,), RequestStatus.SENT, "отметить заявку отправленной"
    ),
    "return": Transition((RequestStatus.SENT,), RequestStatus.RETURNED, "отметить возврат заявки"),
    "register": Transition((RequestStatus.SENT,), RequestStatus.REGISTERED, "отметить регистрацию"),
    "cancel": Transition(
        OPEN_STATUSES,
        RequestStatus.CANCELLED,
        "отменить заявку",
        refusal="Заявка уже в состоянии «{status}»: отменить её нельзя.",
    ),
}


class SentVia(models.TextChoices):
    SMTP = "smtp", _("из портала")
    EML = "eml", _("из почты организации (.eml)")


class RegistrationRequest(models.Model):
    """The organisation's request to info@sferum.ru (section 4 of the regulation)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="registration_requests"
    )
    status = models.CharField(
        _("состояние"), max_length=30, choices=RequestStatus.choices, default=RequestStatus.DRAFT
    )
    appointee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("назначенный администратор"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    admin_full_name = models.CharField(_("Ф.И.О. администратора"), max_length=300)
    admin_position = models.CharField(_("должность администратора"), max_length=300, blank=True)
    admin_phone = PhoneNumberField(
        _("мобильный телефон администратора"),
        validators=[validate_russian_mobile],
        help_text=_("На этот номер «Сферум» выдаст права администратора."),
    )
    letter_pdf = models.FileField(upload_to="onboarding/letters/", blank=True)
    scan = models.FileField(upload_to="onboarding/scans/", blank=True)
    scan_content_type = models.CharField(max_length=50, blank=True)
    questionnaire_filled_on = models.DateField(_("анкета заполнена"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID письма"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("отправлена"), null=True, blank=True)
    sent_via = models.CharField(
        _("как отправлена"), max_length=10, choices=SentVia.choices, blank=True
    )
    return_reason = models.TextField(_("причина возврата"), blank=True)
    registered_on = models.DateField(_("зарегистрирована"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("заявка на регистрацию")
        verbose_name_plural = _("заявки на регистрацию")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=~models.Q(status__in=["registered", "cancelled"]),
                name="one_open_request_per_organisation",
                violation_error_message=_("У организации уже есть открытая заявка."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.get_status_display()}"

    def allowed_actions(self) -> list[str]:
        """The actions of `TRANSITIONS` that the request's current state allows."""
        return [name for name in TRANSITIONS if self.allows(name)]

    def allows(self, action: str) -> bool:
        return self.status in TRANSITIONS[action].sources

    def require(self, action: str) -> Transition:
        """The transition for `action`; refused, naming the states that allow it, when the
        request is in any other state."""
        step = TRANSITIONS[action]
        if self.status in step.sources:
            return step
        status = self.get_status_display()
        if step.refusal:
            raise PortalError(step.refusal.format(status=status))
        names = ", ".join(f"«{RequestStatus(s).label}»" for s in step.sources)
        raise PortalError(
            f"Нельзя {step.verb}: заявка в состоянии «{status}», "
            f"а это возможно только в состоянии {names}."
        )


class SferumStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("не начато")
    PROFILE_CREATED = "profile_created", _("учебный профиль создан")
    VERIFICATION_REQUESTED = "verification_requested", _("запрошено подтверждение «учитель»")
    VERIFIED = "verified", _("статус «учитель» подтверждён")


class TeacherSferumStatus(models.Model):
    """A teacher's progress in Sferum: they report the first steps, the administrator verifies."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sferum_status"
    )
    status = models.CharField(
        max_length=30, choices=SferumStatus.choices, default=SferumStatus.NOT_STARTED
    )
    profile_created_on = models.DateField(_("профиль создан"), null=True, blank=True)
    verification_requested_on = models.DateField(
        _("подтверждение запрошено"), null=True, blank=True
    )
    verified_on = models.DateField(_("статус подтверждён"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    class Meta:
        verbose_name = _("статус педагога в «Сферуме»")
        verbose_name_plural = _("статусы педагогов в «Сферуме»")

    def __str__(self) -> str:
        return f"{self.person}: {self.get_status_display()}"


# Issue 12, §5.1 of the regulation: the local acts and the additional programmes the
# institution amends to provide for Sferum. Each group's programme is an item of its own,
# read as «to do» until its first change stores a row; local acts are named by the
# administrator.


class AmendmentState(models.TextChoices):
    TODO = "todo", _("нужно внести изменения")
    AMENDED = "amended", _("изменения внесены")


class AmendmentItem(models.Model):
    """One document to amend: a group's additional programme (`group` set), or a local act
    named by the administrator (`title` set)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="amendment_items"
    )
    group = models.OneToOneField(
        "accounts.StudyGroup",
        verbose_name=_("объединение"),
        on_delete=models.CASCADE,
        related_name="programme_amendment",
        null=True,
        blank=True,
    )
    title = models.CharField(_("локальный акт"), max_length=300, blank=True)
    state = models.CharField(
        _("состояние"),
        max_length=10,
        choices=AmendmentState.choices,
        default=AmendmentState.TODO,
    )
    amended_on = models.DateField(_("дата изменения"), null=True, blank=True)
    note = models.TextField(_("примечание"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("документ для изменения")
        verbose_name_plural = _("документы для изменения")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(group__isnull=False, title="") | models.Q(group__isnull=True))
                & ~models.Q(group__isnull=True, title=""),
                name="amendment_item_is_programme_or_act",
            ),
        ]

    def __str__(self) -> str:
        if self.group_id:
            return f"Дополнительная программа «{self.group.name}»"
        return self.title
