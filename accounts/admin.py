from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from cdt_portal.errors import PortalError

from .models import Department, Guardianship, Organisation, StudyGroup, User, UserRole
from .services import admin_saved, invitations_email_start


class AuditedAdmin(admin.ModelAdmin):
    """The superuser's changes here are recorded in the audit log like everyone's
    (`services.admin_saved`): the log stays complete, and what is counted from it is right."""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        admin_saved(actor=request.user, obj=obj, added=not change, fields=form.changed_data)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        related = [formset.prefix for formset in formsets if formset.has_changed()]
        if related:
            admin_saved(actor=request.user, obj=form.instance, added=False, fields=related)


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    list_display = ["short_name", "full_name"]
    search_fields = ["short_name", "full_name"]
    prepopulated_fields = {"slug": ["short_name"]}


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ["short_name", "full_name", "department", "region", "messenger"]
    list_filter = ["department"]
    search_fields = ["short_name", "full_name"]
    prepopulated_fields = {"slug": ["short_name"]}


class UserRoleInline(admin.TabularInline):
    model = UserRole
    extra = 0


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    list_display = ["username", "full_name", "organisation", "position", "is_active"]
    list_filter = ["organisation", "department", "user_roles__role", "is_active", "is_superuser"]
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
                    "department",
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
                    "department",
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

    actions = ["invite_by_email"]

    @admin.display(description=_("Ф.И.О."))
    def full_name(self, obj: User) -> str:
        return obj.full_name

    @admin.action(description=_("Пригласить по e-mail (выбрать пароль)"))
    def invite_by_email(self, request, queryset) -> None:
        """How the superuser invites a director (nobody in the institution may): a letter with
        the link, sent by a job; the director then proves the mailbox with a code."""
        by_organisation: dict[int, list[User]] = {}
        for person in queryset.select_related("organisation"):
            if person.organisation_id is not None:
                by_organisation.setdefault(person.organisation_id, []).append(person)
        for people in by_organisation.values():
            try:
                invitations_email_start(
                    organisation=people[0].organisation,
                    people=people,
                    actor=request.user,
                    base_url=settings.PORTAL_URL,
                )
            except PortalError as exc:
                self.message_user(request, exc.message, messages.WARNING)
            else:
                self.message_user(
                    request,
                    f"{people[0].organisation}: приглашения отправляются ({len(people)}).",
                    messages.SUCCESS,
                )


@admin.register(Guardianship)
class GuardianshipAdmin(AuditedAdmin):
    list_display = ["parent", "student"]
    raw_id_fields = ["parent", "student"]


@admin.register(StudyGroup)
class StudyGroupAdmin(AuditedAdmin):
    list_display = ["name", "organisation"]
    list_filter = ["organisation"]
    filter_horizontal = ["teachers", "students"]
