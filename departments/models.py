"""A department's messages to the administrators of its institutions, and who has read them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Department, Organisation


class DepartmentMessage(models.Model):
    """One message to every institution's platform administrators («до 15.12 завершите
    ознакомление»). Never edited: a correction is a new message."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The author's name as it was then.
    author_name = models.CharField(max_length=300)
    subject = models.CharField(_("тема"), max_length=200)
    text = models.TextField(_("текст"), max_length=5000)
    sent_at = models.DateTimeField(_("отправлено"), default=timezone.now)
    # The institutions under the department when it was sent: later ones are not asked.
    institutions = models.ManyToManyField(Organisation, related_name="+")

    class Meta:
        verbose_name = _("сообщение управления образования")
        verbose_name_plural = _("сообщения управления образования")
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.department}: {self.subject}"

    @property
    def batch(self) -> str:
        """Its copies by e-mail in the outbox (`cdt_portal.Delivery`)."""
        return f"department-message:{self.pk}"

    @property
    def job_key(self) -> str:
        """The job that sends those copies (`cdt_portal.Job.key`): one per message, queued
        again when it failed; named as the batch it sends."""
        return self.batch


class MessageReceipt(models.Model):
    """An administrator of an institution has read the message (one row per reader)."""

    message = models.ForeignKey(
        DepartmentMessage, on_delete=models.PROTECT, related_name="receipts"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("отметка о прочтении")
        verbose_name_plural = _("отметки о прочтении")
        ordering = ["read_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["message", "reader"], name="receipt_once_per_reader")
        ]

    def __str__(self) -> str:
        return f"{self.message}: {self.reader}"
