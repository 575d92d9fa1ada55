from django.contrib import admin

from cdt_portal.admin import ReadOnlyAdmin

from .models import RegistrationRequest, TeacherSferumStatus


@admin.register(RegistrationRequest)
class RegistrationRequestAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "status", "admin_full_name", "sent_at", "registered_on"]
    list_filter = ["status"]


@admin.register(TeacherSferumStatus)
class TeacherSferumStatusAdmin(ReadOnlyAdmin):
    list_display = ["person", "status", "verified_on"]
    list_filter = ["status"]
