from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("join/<slug:slug>/", views.join, name="join"),
    path("teacher/", views.teacher_home, name="teacher_home"),
    path("my/", views.family_home, name="family_home"),
    path("people/", views.people, name="people"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("organisation/", views.organisation_settings, name="organisation_settings"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/password/change/", views.password_change_view, name="password_change"),
    path(
        "accounts/password/change/done/",
        views.password_change_done_view,
        name="password_change_done",
    ),
    path("accounts/password/reset/", views.password_reset_view, name="password_reset"),
    path(
        "accounts/password/reset/done/",
        views.password_reset_done_view,
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.password_reset_confirm_view,
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        views.password_reset_complete_view,
        name="password_reset_complete",
    ),
]
