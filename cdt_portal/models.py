"""The audit log: one append-only table for every change anyone makes in the portal."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEncoder(DjangoJSONEncoder):
    """Dates, times and decimals as Django writes them; anything else (a phone number, a
    lazy string) as its text, so recording a change never fails for want of a serialiser."""

    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)


class AuditEntry(models.Model):
    """Who did what to which object, when and from where. Written only by `audit.log_action`
    inside the service's transaction; never updated or deleted (a PostgreSQL trigger refuses
    both, the admin shows it read-only, and no view changes it)."""

    organisation = models.ForeignKey(
        settings.PORTAL_ORGANISATION_MODEL,
        verbose_name=_("организация"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("кто"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    # The actor's name as it was then: a later change of name does not rewrite history.
    actor_name = models.CharField(_("кто (как назывался)"), max_length=300, blank=True)
    action = models.CharField(_("действие"), max_length=100)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    object_id = models.CharField(_("id объекта"), max_length=64, blank=True)
    object_repr = models.CharField(_("объект"), max_length=300, blank=True)
    data = models.JSONField(_("что изменилось"), default=dict, blank=True, encoder=AuditEncoder)
    at = models.DateTimeField(_("когда"), default=timezone.now)
    ip_address = models.GenericIPAddressField(_("IP-адрес"), null=True, blank=True)

    class Meta:
        verbose_name = _("запись журнала")
        verbose_name_plural = _("журнал действий")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["organisation", "-at"], name="audit_org_at"),
            # The organisation's newest entry: what `numbers.counted_once` keys its cache on.
            models.Index(fields=["organisation", "-id"], name="audit_org_newest"),
            models.Index(fields=["content_type", "object_id"], name="audit_object"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%d.%m.%Y %H:%M} {self.actor_name or '—'}: {self.action}"

    def save(self, *args, **kwargs) -> None:
        # Append-only: an entry is written once. (PostgreSQL also refuses UPDATE by trigger.)
        if self.pk is not None:
            raise ValueError("An audit entry is never changed")
        super().save(*args, **kwargs)


class Job(models.Model):
    """A piece of long work run by the background worker, as the person who started it sees it:
    what, how far along, and where the result is. `key` makes starting idempotent: pressing
    the button twice finds the job the first press started."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("в очереди")
        RUNNING = "running", _("выполняется")
        DONE = "done", _("готово")
        FAILED = "failed", _("не удалось")

    organisation = models.ForeignKey(
        settings.PORTAL_ORGANISATION_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    kind = models.CharField(max_length=50)
    key = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result_url = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the worker runs, kept on the row so that the core can queue the job again (after a
    # killed worker, a lost queue, a retry) without asking the app that started it.
    task_name = models.CharField(max_length=200, blank=True)
    task_args = models.JSONField(default=list, blank=True)
    # Each queueing is a new attempt; a task message carries its attempt, and only the current
    # attempt may run, so a message left over from an earlier attempt does nothing.
    attempt = models.PositiveIntegerField(default=1)
    # How many times in a row the worker's check queued it again after it was lost.
    requeued = models.PositiveSmallIntegerField(default=0)
    # Stamped when the job is queued and every few seconds while a worker runs it: a job whose
    # heartbeat is older than JOB_SILENCE_SECONDS, with no task of it on the queue, is lost.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When `done` last moved: a running job that beats but makes no progress is stuck.
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("фоновая работа")
        verbose_name_plural = _("фоновые работы")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["organisation", "-created_at"], name="job_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.title}: {self.get_status_display()}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ServiceBeat(models.Model):
    """The last sign of life of a part of the portal that runs outside requests: `worker` (a
    periodic task stamps it every minute, so it proves the queue, the scheduler and a worker
    process together) and `backup` (the newest archive made, with its name and size)."""

    name = models.CharField(max_length=50, primary_key=True)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("признак работы службы")
        verbose_name_plural = _("признаки работы служб")

    def __str__(self) -> str:
        return f"{self.name}: {self.at:%d.%m.%Y %H:%M:%S}"


class Delivery(models.Model):
    """One letter to one person (or address): the portal's one outbox and the one history of
    what was sent to whom. Every letter is a row here before it goes (`cdt_portal.outbox`):
    `sending` is committed before the message is handed to the mail server and the outcome
    after, so a worker killed in between leaves `unconfirmed` (it may have gone out), which
    nothing sends again by itself; the person who sent it decides."""

    class Kind(models.TextChoices):
        # Every kind of letter the portal sends, named here so that a person's history of
        # letters (`outbox.history`) reads the same whichever app sent them.
        INVITATION = "invitation", _("приглашение")
        INVITATION_CODE = "invitation_code", _("код подтверждения приглашения")
        REMINDER = "reminder", _("напоминание ознакомиться с документом")
        PARENT_REMINDER = "parent_reminder", _("напоминание родителю")
        REGISTRATION = "registration", _("заявка на регистрацию в «Сферуме»")
        DIGEST = "digest", _("еженедельная сводка")
        DEPARTMENT_MESSAGE = "department_message", _("сообщение управления образования")

    class Status(models.TextChoices):
        PENDING = "pending", _("ждёт отправки")
        SENDING = "sending", _("отправляется")
        SENT = "sent", _("отправлено")
        FAILED = "failed", _("не отправлено")
        # The worker stopped between handing the letter over and hearing back.
        UNCONFIRMED = "unconfirmed", _("отправка не подтверждена")
        # Nobody to write to: recorded so the page says whom to tell in person.
        NO_EMAIL = "no_email", _("нет e-mail")
        # Not needed any more when its turn came (the person did meanwhile what it asks).
        WITHDRAWN = "withdrawn", _("не понадобилось")

    organisation = models.ForeignKey(
        settings.PORTAL_ORGANISATION_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    email = models.EmailField(blank=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # The batch a letter belongs to ("invitations:12": a mailing, "reminders:7": a reminder
    # run, …): a batch records each person once.
    batch = models.CharField(max_length=120)
    # What the letter's own app keeps with it (an invitation's id, a reminder's day).
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("письмо")
        verbose_name_plural = _("письма")
        ordering = ["pk"]
        constraints = [
            # One letter per person in a batch: a batch sent again sends nobody twice.
            models.UniqueConstraint(
                fields=["batch", "person"],
                condition=models.Q(person__isnull=False),
                name="delivery_once_per_batch_person",
            ),
            models.UniqueConstraint(
                fields=["batch", "email"],
                condition=models.Q(person__isnull=True),
                name="delivery_once_per_batch_address",
            ),
        ]
        indexes = [
            models.Index(fields=["batch", "status"], name="delivery_batch_status"),
            models.Index(fields=["person", "-id"], name="delivery_person_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.email or self.person}: {self.get_status_display()}"

    @property
    def finished(self) -> bool:
        return self.status not in (self.Status.PENDING, self.Status.SENDING)
