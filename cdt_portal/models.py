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

    class Meta:
        verbose_name = _("фоновая работа")
        verbose_name_plural = _("фоновые работы")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_created")]

    def __str__(self) -> str:
        return f"{self.title}: {self.get_status_display()}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
