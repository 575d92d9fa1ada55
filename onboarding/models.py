from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone
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

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES

    def allowed_actions(self) -> list[str]:
        """The actions of `TRANSITIONS` that the request's current state allows."""
        return [name for name, step in TRANSITIONS.items() if self.status in step.sources]

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


class PublishedNotice(models.Model):
    """A notice published to a group of people; the newest edition is in force and each
    edition is confirmed anew."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("текст уведомления"))
    published_at = models.DateTimeField(_("опубликовано"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.published_at:%d.%m.%Y}"


class ParentNotice(PublishedNotice):
    """The notice informing parents how the institution uses Sferum (section 5)."""

    class Meta(PublishedNotice.Meta):
        verbose_name = _("уведомление родителей")
        verbose_name_plural = _("уведомления родителей")


class NoticeAcknowledgement(models.Model):
    notice = models.ForeignKey(
        ParentNotice, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    parent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notice_acknowledgements"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "parent"], name="notice_ack_once"),
        ]

    def __str__(self) -> str:
        return f"{self.parent}: {self.at:%d.%m.%Y}"


class ConsentText(models.Model):
    """A version of the consent to personal-data processing (152-ФЗ, a separate document)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("текст согласия"))
    text_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.organisation}: {self.created_at:%d.%m.%Y}"


class ConsentAction(models.TextChoices):
    GIVEN = "given", _("дано")
    WITHDRAWN = "withdrawn", _("отозвано")


class ConsentRecord(models.Model):
    """One act of giving or withdrawing consent; never changed, the newest one is in force."""

    parent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents_given"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents"
    )
    action = models.CharField(max_length=10, choices=ConsentAction.choices)
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="records")
    at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.parent} → {self.student}: {self.get_action_display()}"


# Issue 12, the family side: the consent's filled details, the students' own notice, and the
# families who choose not to use Sferum.


class IdentityDocument(models.TextChoices):
    PASSPORT = "passport", _("паспорт гражданина Российской Федерации")
    FOREIGN_PASSPORT = "foreign_passport", _("паспорт иностранного гражданина")
    OTHER = "other", _("иной документ, удостоверяющий личность")


class AuthorityDocument(models.TextChoices):
    BIRTH_CERTIFICATE = "birth_certificate", _("свидетельство о рождении")
    GUARDIANSHIP = "guardianship", _("акт органа опеки и попечительства")
    OTHER = "other", _("иной документ, подтверждающий полномочия")


class ConsentMethod(models.TextChoices):
    ONLINE = "online", _("в портале")
    PAPER = "paper", _("на бумаге")


class ConsentDetails(models.Model):
    """What a consent record says beyond «given»/«withdrawn» (152-ФЗ ст. 9 ч. 4): the parent,
    their identity document, the child, the document proving the parent's authority; and how
    the act was made (online, or on paper recorded by an administrator with the paper's date).
    A withdrawal keeps only the way and the date. Personal data: shown to the parent and the
    organisation's managers only."""

    record = models.OneToOneField(
        ConsentRecord, on_delete=models.PROTECT, related_name="details", primary_key=True
    )
    method = models.CharField(
        _("как оформлено"), max_length=10, choices=ConsentMethod.choices, default="online"
    )
    signed_on = models.DateField(_("дата документа"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    parent_full_name = models.CharField(_("Ф.И.О. родителя"), max_length=300, blank=True)
    parent_address = models.CharField(_("адрес родителя"), max_length=500, blank=True)
    id_document = models.CharField(
        _("документ, удостоверяющий личность"),
        max_length=20,
        choices=IdentityDocument.choices,
        blank=True,
    )
    id_series = models.CharField(_("серия"), max_length=20, blank=True)
    id_number = models.CharField(_("номер"), max_length=30, blank=True)
    id_issued_on = models.DateField(_("дата выдачи"), null=True, blank=True)
    id_issued_by = models.CharField(_("кем выдан"), max_length=500, blank=True)
    child_full_name = models.CharField(_("Ф.И.О. ребёнка"), max_length=300, blank=True)
    child_birth_date = models.DateField(_("дата рождения ребёнка"), null=True, blank=True)
    child_address = models.CharField(_("адрес ребёнка"), max_length=500, blank=True)
    authority_document = models.CharField(
        _("документ, подтверждающий полномочия"),
        max_length=20,
        choices=AuthorityDocument.choices,
        blank=True,
    )
    authority_series = models.CharField(_("серия"), max_length=20, blank=True)
    authority_number = models.CharField(_("номер"), max_length=30, blank=True)
    authority_issued_on = models.DateField(_("дата выдачи"), null=True, blank=True)
    authority_issued_by = models.CharField(_("кем выдан"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("сведения согласия")
        verbose_name_plural = _("сведения согласий")

    def __str__(self) -> str:
        return f"{self.record}: {self.signed_on:%d.%m.%Y}"


class StudentNotice(PublishedNotice):
    """The students' own short notice (section 5.2: students and parents are informed)."""

    class Meta(PublishedNotice.Meta):
        verbose_name = _("уведомление обучающихся")
        verbose_name_plural = _("уведомления обучающихся")


class StudentNoticeAcknowledgement(models.Model):
    notice = models.ForeignKey(
        StudentNotice, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "student"], name="student_notice_ack_once"),
        ]

    def __str__(self) -> str:
        return f"{self.student}: {self.at:%d.%m.%Y}"


class FamilyChannel(models.TextChoices):
    PHONE = "phone", _("по телефону")
    EMAIL = "email", _("по электронной почте")
    PAPER = "paper", _("на бумаге (через ребёнка или лично)")


class FamilyChoice(models.Model):
    """A parent's choice for one child: «не используем Сферум/MAX» and the other channel the
    family prefers. `declined` false: they changed their mind (the row and its history stay)."""

    parent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="family_choices"
    )
    declined = models.BooleanField(_("не используем «Сферум»"), default=True)
    channel = models.CharField(
        _("другой способ связи"), max_length=10, choices=FamilyChannel.choices, blank=True
    )
    contact = models.CharField(_("телефон или e-mail для связи"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("выбор семьи")
        verbose_name_plural = _("выбор семей")
        constraints = [
            models.UniqueConstraint(fields=["parent", "student"], name="family_choice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.parent} → {self.student}: {self.get_channel_display()}"


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


# Issue 12, deadlines for parents and the weekly digest --------------------------------------


class ParentTask(models.TextChoices):
    NOTICE = "notice", _("уведомление")
    CONSENT = "consent", _("согласие")


class ParentDeadline(models.Model):
    """The date by which parents should confirm the notice in force, or give the consent for
    each child. Setting it starts the reminder schedule again from that day."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("что сделать"), max_length=10, choices=ParentTask.choices)
    due_date = models.DateField(_("срок"))
    reminders_from = models.DateField(_("напоминания с"))

    class Meta:
        verbose_name = _("срок для родителей")
        verbose_name_plural = _("сроки для родителей")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind"], name="parent_deadline_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: до {self.due_date:%d.%m.%Y}"


class ReminderStatus(models.TextChoices):
    SENT = "sent", _("отправлено")
    FAILED = "failed", _("не отправлено")
    NO_EMAIL = "no_email", _("нет e-mail: напомнить лично")


class ParentReminder(models.Model):
    """One reminder to one parent (sent, failed, or due but without an e-mail address)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    parent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=ParentTask.choices)
    at = models.DateTimeField(default=timezone.now)
    on_date = models.DateField()
    status = models.CharField(max_length=10, choices=ReminderStatus.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            # Never twice a day: a second run the same day cannot add a row.
            models.UniqueConstraint(
                fields=["parent", "kind", "on_date"], name="parent_reminder_once_a_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent}: {self.get_kind_display()}, {self.on_date:%d.%m.%Y}"


class DigestSent(models.Model):
    """The weekly digest of one organisation for one week: recorded before it is sent, so a
    second run of the same week sends nothing."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    week_start = models.DateField()
    at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "week_start"], name="digest_once_a_week"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation}: неделя с {self.week_start:%d.%m.%Y}"
