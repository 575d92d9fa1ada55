"""Read-only admin pages: every change goes through the services, so the superuser's admin
shows records but never edits or deletes them (acknowledgements, requests, the audit log)."""

from django.contrib import admin

from .models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "organisation", "actor_name", "action", "object_repr", "ip_address"]
    list_filter = ["action", "organisation"]
    search_fields = ["actor_name", "object_repr", "action"]
    date_hierarchy = "at"
