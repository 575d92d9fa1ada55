from django.contrib import admin

from cdt_portal.admin import ReadOnlyAdmin

from .models import RegistrationRequest, RequestEvent, TeacherSferumStatus, TeacherStatusEvent


@admin.register(RegistrationRequest)
class RegistrationRequestAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "status", "admin_full_name", "sent_at", "registered_on"]
    list_filter = ["status"]


@admin.register(RequestEvent)
class RequestEventAdmin(ReadOnlyAdmin):
    list_display = ["request", "from_status", "to_status", "actor", "at"]


@admin.register(TeacherSferumStatus)
class TeacherSferumStatusAdmin(ReadOnlyAdmin):
    list_display = ["person", "status", "verified_on"]
    list_filter = ["status"]


@admin.register(TeacherStatusEvent)
class TeacherStatusEventAdmin(ReadOnlyAdmin):
    list_display = ["person", "from_status", "to_status", "actor", "at"]
