from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "Портал по внедрению «Сферума» — администрирование"
admin.site.site_title = "Портал по внедрению «Сферума»"
admin.site.index_title = "Данные всех организаций"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("jobs/<int:pk>/", views.job_status, name="job_status"),
    # Before the admin's own sign-in page, which it replaces.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    # The URLconfs are named, not imported: the core never imports the apps above it.
    path("", include("portal.urls")),
    path("", include("accounts.urls")),
    path("", include("signin.urls")),
    path("", include("families.urls")),
    path("", include("onboarding.urls")),
    path("", include("acknowledgements.urls")),
    path("", include("departments.urls")),
]
