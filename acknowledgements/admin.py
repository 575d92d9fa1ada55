"""Read-only views for the platform's superuser: every change goes through the services,
and an acknowledgement is never edited or deleted, not even here."""

from django.contrib import admin

from cdt_portal.admin import ReadOnlyAdmin

from .models import Acknowledgement, Document, DocumentVersion


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ["title", "organisation", "code"]


@admin.register(DocumentVersion)
class DocumentVersionAdmin(ReadOnlyAdmin):
    list_display = ["document", "number", "status", "order_number", "order_date"]
    list_filter = ["status"]


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ["person", "version", "method", "acknowledged_on", "recorded_by"]
    list_filter = ["method"]
    search_fields = ["person__last_name", "person__first_name"]
