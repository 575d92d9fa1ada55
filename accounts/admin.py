from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Guardianship, Organisation, StudyGroup, User, UserRole


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["short_name", "full_name", "region", "messenger"]
    search_fields = ["short_name", "full_name"]
    prepopulated_fields = {"slug": ["short_name"]}


class UserRoleInline(admin.TabularInline):
    model = UserRole
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "full_name", "organisation", "position", "is_active"]
    list_filter = ["organisation", "user_roles__role", "is_active", "is_superuser"]
    search_fields = ["username", "last_name", "first_name", "patronymic", "email"]
    ordering = ["last_name", "first_name"]
    inlines = [UserRoleInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Личные данные"),
            {
                "fields": (
                    "organisation",
                    "last_name",
                    "first_name",
                    "patronymic",
                    "position",
                    "email",
                    "phone",
                )
            },
        ),
        (_("Права"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Даты"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "organisation",
                    "username",
                    "last_name",
                    "first_name",
                    "patronymic",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    @admin.display(description=_("Ф.И.О."))
    def full_name(self, obj: User) -> str:
        return obj.full_name


@admin.register(Guardianship)
class GuardianshipAdmin(admin.ModelAdmin):
    list_display = ["parent", "student"]
    raw_id_fields = ["parent", "student"]


@admin.register(StudyGroup)
class StudyGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation"]
    list_filter = ["organisation"]
    filter_horizontal = ["teachers", "students"]
