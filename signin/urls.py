from django.urls import path

from . import views

urlpatterns = [
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/logout/", views.logout_view, name="logout"),
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
    path("accounts/two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("accounts/two-factor/codes/", views.two_factor_codes, name="two_factor_codes"),
    path("accounts/two-factor/remove/", views.two_factor_remove, name="two_factor_remove"),
]
