"""Signing in and out, and the password pages."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from cdt_portal.access import login_only, public

from .forms import LoginForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "emails/password_reset.txt"
    html_email_template_name = "emails/password_reset.html"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


login_view = public(LoginView.as_view())
logout_view = public(auth_views.LogoutView.as_view())
password_change_view = login_only(
    auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("password_change_done"))
)
password_change_done_view = login_only(auth_views.PasswordChangeDoneView.as_view())
password_reset_view = public(PasswordResetView.as_view())
password_reset_done_view = public(auth_views.PasswordResetDoneView.as_view())
password_reset_confirm_view = public(
    auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("password_reset_complete"))
)
password_reset_complete_view = public(auth_views.PasswordResetCompleteView.as_view())
