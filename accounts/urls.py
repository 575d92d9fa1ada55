from django.urls import path

from . import jobs_views, people_views, views

urlpatterns = [
    path("join/<slug:slug>/", views.join, name="join"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/<slug:slug>/", views.privacy_public, name="privacy_public"),
    path("people/", views.people, name="people"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/new/", people_views.person_new, name="person_new"),
    path("people/<int:pk>/edit/", people_views.person_edit, name="person_edit"),
    path("people/<int:pk>/active/", people_views.person_active, name="person_active"),
    path("people/<int:pk>/invite/", people_views.person_invite, name="person_invite"),
    path("people/<int:pk>/unlock/", people_views.login_unlock_view, name="login_unlock"),
    path("people/<int:pk>/parents/", people_views.person_parents, name="person_parents"),
    path("people/invitations/", people_views.invitations_print, name="invitations_print"),
    path(
        "people/invitations/slips/<int:pk>.pdf",
        people_views.invitation_slips_pdf,
        name="invitation_slips_pdf",
    ),
    path(
        "people/invitations/mailings/<int:pk>/",
        people_views.invitation_mailing,
        name="invitation_mailing",
    ),
    path(
        "people/invitations/mailings/<int:pk>/retry/",
        people_views.invitation_mailing_retry_view,
        name="invitation_mailing_retry",
    ),
    path("people/import/", people_views.staff_import, name="staff_import"),
    path("people/import/<int:pk>/", people_views.staff_import_preview, name="staff_import_preview"),
    path(
        "invite/<int:pk>/<str:token>/",
        people_views.invitation_accept_view,
        name="invitation_accept",
    ),
    path(
        "invite/<int:pk>/<str:token>/code/",
        people_views.invitation_code_status,
        name="invitation_code_status",
    ),
    path("groups/", people_views.group_list, name="group_list"),
    path("groups/new/", people_views.group_new, name="group_new"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("groups/<int:pk>/edit/", people_views.group_edit, name="group_edit"),
    path("jobs/", jobs_views.jobs, name="jobs"),
    path("jobs/<int:pk>/retry/", jobs_views.job_retry_view, name="job_retry"),
    path("organisation/", views.organisation_settings, name="organisation_settings"),
    path("accounts/keepalive/", views.keepalive, name="keepalive"),
]
