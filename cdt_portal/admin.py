"""Read-only admin pages: every change goes through the services, so the superuser's admin
shows records but never edits or deletes them (acknowledgements, requests, the audit log)."""

from django.contrib import admin, messages

from .errors import PortalError
from .jobs import job_retry
from .models import AuditEntry, Job


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


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Every organisation's background jobs for the superuser: what failed and why, what is
    running or waiting; «Повторить» queues failed ones again (audited as `job.retried`)."""

    list_display = ["title", "organisation", "status", "done", "total", "created_at", "message"]
    list_filter = ["status", "kind", "organisation"]
    search_fields = ["title", "key", "message"]
    date_hierarchy = "created_at"
    actions = ["retry"]

    @admin.action(description="Повторить выбранные неудавшиеся работы")
    def retry(self, request, queryset) -> None:
        retried, refused = 0, []
        for job in queryset:
            try:
                job_retry(job=job, actor=request.user)
            except PortalError as exc:
                refused.append(f"«{job.title}»: {exc.message}")
            else:
                retried += 1
        if retried:
            self.message_user(request, f"Снова в очереди: {retried}.", messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.WARNING)

    def has_change_permission(self, request, obj=None) -> bool:
        # The list's action needs it; every field stays read-only (`get_readonly_fields`).
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
