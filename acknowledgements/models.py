from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from cdt_portal.errors import PortalError
from cdt_portal.models import Delivery
from cdt_portal.validators import single_line

REGULATION_CODE = "sferum"
REGULATION_TITLE = "Положение об использовании ИКОП «Сферум»"
# The institution's agreement on the простая электронная подпись (63-ФЗ ст. 6 ч. 2, ст. 9): a
# document like the others, accepted once with the password before any online confirmation.
AGREEMENT_CODE = "esign-agreement"
AGREEMENT_TITLE = "Соглашение об использовании простой электронной подписи"


class DocumentKind(models.TextChoices):
    REGULATION = "regulation", _("положение")
    RULES = "rules", _("правила")
    INSTRUCTION = "instruction", _("инструкция")
    POLICY = "policy", _("политика")
    AGREEMENT = "agreement", _("соглашение об электронной подписи")
    OTHER = "other", _("иной локальный акт")


# How long the approving order of each kind is kept (Перечень типовых управленческих архивных
# документов, приказ Росархива от 20.12.2019 № 236): every local act here is approved by an
# order on core activity, kept permanently (ст. 19а); the sheet is kept with its act.
STORAGE_TERM = {
    kind: "постоянно (приказ по основной деятельности, ст. 19а Перечня, приказ Росархива "
    "от 20.12.2019 № 236)"
    for kind in DocumentKind.values
}


class Audience(models.TextChoices):
    ALL_STAFF = "all", _("все сотрудники")
    ROLES = "roles", _("сотрудники с ролями")
    GROUPS = "groups", _("педагоги объединений")
    PEOPLE = "people", _("названные сотрудники")


class Document(models.Model):
    """A local act of the organisation that staff must read (ТК РФ ст. 22 ч. 2, ст. 68 ч. 3):
    the Sferum regulation, the agreement on the простая электронная подпись, any other act.
    Who must read it is the audience: all staff (teachers and administrators: the director
    approves and is not on the sheet), staff with some roles, the teachers of some groups, or
    named people (`selectors.readers`)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="documents"
    )
    code = models.SlugField(_("код"), default=REGULATION_CODE)
    title = models.CharField(_("название"), max_length=500, validators=[single_line])
    kind = models.CharField(
        _("вид"), max_length=20, choices=DocumentKind.choices, default=DocumentKind.REGULATION
    )
    audience = models.CharField(
        _("кто знакомится"), max_length=10, choices=Audience.choices, default=Audience.ALL_STAFF
    )
    audience_roles = models.JSONField(_("роли"), default=list, blank=True)
    audience_groups = models.ManyToManyField(
        "accounts.StudyGroup", blank=True, related_name="+", verbose_name=_("объединения")
    )
    audience_people = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("сотрудники")
    )
    # «Новым сотрудникам — в течение N дней»: a person who gets a staff role later has this
    # many days from that day (`selectors.my_documents`).
    new_staff_days = models.PositiveSmallIntegerField(
        _("новым сотрудникам — в течение, дней"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("добавлен"), auto_now_add=True, null=True)

    class Meta:
        verbose_name = _("документ")
        verbose_name_plural = _("документы")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="document_code_once"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def storage_term(self) -> str:
        return STORAGE_TERM[self.kind]

    @property
    def is_agreement(self) -> bool:
        return self.kind == DocumentKind.AGREEMENT


class PaperOnly(models.Model):
    """A person who refused the agreement on the простая электронная подпись: «только на
    бумаге». Their confirmations go through the paper record; cleared when they accept it."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="paper_only"
    )
    marked_at = models.DateTimeField(_("отмечено"), auto_now_add=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("только на бумаге")
        verbose_name_plural = _("только на бумаге")

    def __str__(self) -> str:
        return f"{self.person}: только на бумаге"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("черновик")
    # The director pressed «Утвердить»; a job renders and stores the order, then approves it.
    APPROVING = "approving", _("утверждается…")
    APPROVED = "approved", _("утверждена")
    SUPERSEDED = "superseded", _("заменена новой")


@dataclass(frozen=True)
class Transition:
    """One action on a version: the states it may be taken from and the state it leads to
    (None: the version keeps its state). `refusal` is what a person is told in any other
    state, `refusal_in` what they are told in a state that needs its own sentence."""

    sources: tuple[str, ...]
    target: str | None
    refusal: str = ""
    refusal_in: Mapping[str, str] = field(default_factory=dict, compare=False)


NOT_EDITABLE = "Утверждённую редакцию изменить нельзя: создайте новую редакцию документа."
NOT_EDITABLE_WHILE_APPROVING = "Редакция утверждается: изменить её нельзя."
NOT_APPROVABLE = "Эта редакция уже утверждена или заменена: утвердить её нельзя."
NOT_IN_FORCE = "С этой редакцией знакомиться не нужно: она не утверждена или уже заменена новой."
NO_SHEET = "У черновика нет листа ознакомления."

IN_FORCE = (VersionStatus.APPROVED,)

# The one place that says which action is allowed in which state of a version, in the style of
# the registration request's table (onboarding/models.py): the services refuse by it
# (`DocumentVersion.require`), the views and selectors ask it (`allows`, `allowed_actions`)
# instead of comparing states. The approval job's own steps are never refused to a person:
# the job leaves alone a version that moved on meanwhile (`allows`).
TRANSITIONS: dict[str, Transition] = {
    # A draft's text and order details (the services set every other field).
    "edit": Transition(
        (VersionStatus.DRAFT,),
        None,
        NOT_EDITABLE,
        {VersionStatus.APPROVING: NOT_EDITABLE_WHILE_APPROVING},
    ),
    # The director presses «Утвердить»: a job renders and stores the order. Pressed again while
    # the version is approving, it finds that job (the version is where approving leads).
    "approve": Transition(
        (VersionStatus.DRAFT, VersionStatus.APPROVING), VersionStatus.APPROVING, NOT_APPROVABLE
    ),
    # The approval job stored the order: the version is in force ...
    "approval_finish": Transition((VersionStatus.APPROVING,), VersionStatus.APPROVED),
    # ... and the one in force before it is superseded.
    "supersede": Transition((VersionStatus.APPROVED,), VersionStatus.SUPERSEDED),
    # The approval job failed: a draft again, the reason in its history.
    "approval_fail": Transition((VersionStatus.APPROVING,), VersionStatus.DRAFT),
    # Reading it: only the version in force is confirmed, recorded on paper, reminded of and
    # given a due date.
    "confirm": Transition(IN_FORCE, None, NOT_IN_FORCE),
    "record_paper": Transition(IN_FORCE, None, NOT_IN_FORCE),
    "remind": Transition(IN_FORCE, None, NOT_IN_FORCE),
    "set_deadline": Transition(IN_FORCE, None, NOT_IN_FORCE),
    # Every version that was ever in force has its sheet.
    "print_sheet": Transition((VersionStatus.APPROVED, VersionStatus.SUPERSEDED), None, NO_SHEET),
}


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# What a draft's editor may change; everything else is set by the services.
EDITABLE_FIELDS = (
    "title",
    "text",
    "order_number",
    "order_date",
    "approver_position",
    "approver_name",
)


class DocumentVersion(models.Model):
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("номер редакции"))
    title = models.CharField(
        _("заголовок"),
        max_length=500,
        help_text=_("Как в шапке документа: «Положение по использованию …»."),
    )
    text = models.TextField(
        _("текст"),
        help_text=_(
            "Markdown: «## 1. Общие положения» — заголовок раздела, «- » — пункт списка, "
            "пустая строка — новый абзац."
        ),
    )
    order_number = models.CharField(_("номер приказа"), max_length=50, validators=[single_line])
    order_date = models.DateField(_("дата приказа"))
    approver_position = models.CharField(
        _("должность утверждающего"), max_length=200, validators=[single_line]
    )
    approver_name = models.CharField(_("утверждающий (инициалы и фамилия)"), max_length=200)
    status = models.CharField(
        _("статус"), max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    text_sha256 = models.CharField(_("SHA-256 текста"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("создана"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    approved_at = models.DateTimeField(_("утверждена"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    # The approved order, rendered once by the approval job: it must never change afterwards.
    order_pdf = models.FileField(upload_to="documents/orders/", blank=True)
    # An act given as its own PDF rather than as text: what staff read, embedded in the order
    # and hashed as the text is (`content_sha256`). Never changed once the version is approved.
    source_pdf = models.FileField(
        _("файл документа (PDF)"), upload_to="documents/acts/", blank=True
    )
    source_name = models.CharField(_("имя файла документа"), max_length=255, blank=True)
    # An editorial correction (chosen by the director at approval, with a reason): staff are not
    # asked again. The acknowledgements of the version it corrects (`corrects`, the approved one
    # it replaced) count for it; no row is copied, so the sheet shows the original dates.
    editorial = models.BooleanField(_("редакционная правка"), default=False)
    editorial_reason = models.TextField(_("причина редакционной правки"), blank=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("исправляет редакцию"),
    )
    # Reading it: the due date (set by the administrator) and the day the scheduled reminders
    # start from (approval, or the day the due date was set). See cdt_portal/reminder_schedule.
    read_by = models.DateField(_("срок ознакомления"), null=True, blank=True)
    reminders_from = models.DateField(_("напоминания с"), null=True, blank=True)
    # Raised by `sheet.sheet_changed` (the one function that raises it, called by every service
    # that changes what this version's sheet prints of the version itself or of its
    # acknowledgements); with the organisation's `people_revision` it names the stored sheet
    # (`sheet.sheet_lookup`), so an unchanged sheet is found without building its rows.
    sheet_revision = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("редакция документа")
        verbose_name_plural = _("редакции документа")
        ordering = ["document", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="version_number_once"),
            models.UniqueConstraint(
                fields=["document"],
                condition=models.Q(status="approved"),
                name="version_one_approved_per_document",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (ред. {self.number})"

    @property
    def organisation(self) -> Organisation:
        return self.document.organisation

    def allows(self, action: str) -> bool:
        """The version's state allows `action` (a key of TRANSITIONS)."""
        return self.status in TRANSITIONS[action].sources

    def allowed_actions(self) -> list[str]:
        """The actions of `TRANSITIONS` that the version's current state allows."""
        return [name for name, step in TRANSITIONS.items() if self.status in step.sources]

    def require(self, action: str) -> Transition:
        """The transition for `action`; refused with its sentence in any other state."""
        step = TRANSITIONS[action]
        if self.status in step.sources:
            return step
        raise PortalError(step.refusal_in.get(self.status, step.refusal))

    def content_sha256(self) -> str:
        """The SHA-256 of what staff read: the act's PDF when it was given as one, else the
        text."""
        if self.source_pdf:
            with self.source_pdf.open("rb") as source:
                return hashlib.sha256(source.read()).hexdigest()
        return text_sha256(self.text)

    @property
    def order_label(self) -> str:
        """«Приказ от 30.11.2023 г. № 201-О», as under the approval stamp."""
        return f"Приказ от {self.order_date:%d.%m.%Y} г. № {self.order_number}"


class AckMethod(models.TextChoices):
    ONLINE = "online", _("в портале")
    PAPER = "paper", _("на бумаге")


class Acknowledgement(models.Model):
    """One person has read one version. Never edited or deleted."""

    version = models.ForeignKey(
        DocumentVersion, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    method = models.CharField(_("способ"), max_length=10, choices=AckMethod.choices)
    acknowledged_on = models.DateField(
        _("дата ознакомления"), help_text=_("Для бумажного листа — дата подписи на бумаге.")
    )
    recorded_at = models.DateTimeField(_("записано"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("кто записал"),
    )
    ip_address = models.GenericIPAddressField(_("IP-адрес"), null=True, blank=True)
    user_agent = models.CharField(_("браузер"), max_length=500, blank=True)
    text_sha256 = models.CharField(_("SHA-256 прочитанного текста"), max_length=64)
    # The accepted version of the agreement on the простая электронная подпись an online
    # confirmation relied on (none: on paper, the agreement itself, or confirmed before the
    # organisation had an agreement). The sheet states it as the confirmation's basis.
    agreement = models.ForeignKey(
        "DocumentVersion",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("соглашение о простой электронной подписи"),
    )

    class Meta:
        verbose_name = _("ознакомление")
        verbose_name_plural = _("ознакомления")
        ordering = ["recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "person"], name="ack_one_per_person_and_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.version}"


class ReminderRun(models.Model):
    """One press of «Напомнить» (or one scheduled round): a job that e-mails each pending
    reader once. `number` counts the runs of a version; a new run starts only after the last
    one finished, so a double click finds the run already going. Its letters are the outbox's
    batch `reminders:<pk>` (`batch`, `deliveries`); this row keeps what the run was."""

    version = models.ForeignKey(
        DocumentVersion, on_delete=models.PROTECT, related_name="reminder_runs"
    )
    number = models.PositiveIntegerField(_("номер рассылки"))
    on_date = models.DateField(_("дата"))
    # A retry of the failed ones of an earlier run: only those people are e-mailed.
    retry_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="retries", null=True, blank=True
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    base_url = models.CharField(max_length=500)
    # Started by the schedule (`reminders_due`): only the people whose reminder is due that day.
    scheduled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("рассылка напоминаний")
        verbose_name_plural = _("рассылки напоминаний")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["version", "number"], name="reminder_run_number_once"),
        ]

    def __str__(self) -> str:
        return f"Напоминания № {self.number} ({self.version})"

    @property
    def job_key(self) -> str:
        return f"reminders-v{self.version_id}-{self.on_date:%Y%m%d}-{self.number}"

    # A run's batch is this and its pk (`batch`); selectors build the same name in SQL.
    BATCH_PREFIX = "reminders:"

    @property
    def batch(self) -> str:
        """Its letters' batch in the outbox (`cdt_portal.outbox`)."""
        return f"{self.BATCH_PREFIX}{self.pk}"

    @property
    def deliveries(self) -> QuerySet[Delivery]:
        """Its letters, one per person (`no_email` for those to remind in person), in the
        outbox."""
        return Delivery.objects.filter(batch=self.batch)
