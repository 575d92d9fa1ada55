"""Signing in and out, the second factor, the password pages, and unlocking a person."""

from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from accounts.forms import ProfileForm
from accounts.services import profile_update
from cdt_portal import throttle
from cdt_portal.access import login_only, public
from cdt_portal.errors import PortalError
from cdt_portal.redirects import safe_next

from .access import second_factor_people
from .forms import CodeForm, EnrolForm, LoginForm, PasswordResetForm, RemoveDeviceForm
from .receivers import HAS_DEVICE
from .selectors import (
    enrolment,
    has_second_factor,
    new_totp_key,
    otp_key,
    recovery_codes_left,
    totp_device,
)
from .services import (
    password_change_recorded,
    password_reset_recorded,
    recovery_codes_renew,
    second_factor_enrol,
    second_factor_remove,
    second_factor_verify,
)

# Session keys: the secret being enrolled (until its first code is confirmed), and the
# recovery codes just made (shown once, then dropped).
PENDING_KEY = "signin_pending_totp_key"
NEW_CODES = "signin_new_recovery_codes"


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        # Per username and address django-axes counts; per address across usernames, here.
        throttle.check_address(request, settings.LOGIN_ADDRESS_FAILURE_LIMIT)
        return super().post(request, *args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    email_template_name = "signin/emails/password_reset.txt"
    html_email_template_name = "signin/emails/password_reset.html"
    subject_template_name = "signin/emails/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        # Counted per address asked about and client, known or not (the same work either way):
        # at most LOGIN_FAILURE_LIMIT reset e-mails per address and client per cool-off, and
        # OTP_USER_FAILURE_LIMIT from all clients together, so many clients cannot fill a
        # mailbox (tests/trust/test_secrets_are_throttled_everywhere.py).
        key = "reset:" + form.cleaned_data["email"]
        throttle.check(self.request, key)
        throttle.check_everywhere(self.request, key, settings.OTP_USER_FAILURE_LIMIT)
        response = super().form_valid(form)
        throttle.spent(self.request, key)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The new password by the e-mailed link: recorded, and the failures that locked the
    person out forgotten (`password_reset_recorded`)."""

    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_reset_recorded(person=form.user)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """The old password is a guess like any other: counted with the sign-in's failures."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        password_change_recorded(person=form.user)
        return response

    def post(self, request, *args, **kwargs):
        throttle.check(request, request.user.get_username())
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if "old_password" in form.errors:
            throttle.failed(self.request, self.request.user.get_username())
        return super().form_invalid(form)


def _next_url(request: HttpRequest) -> str:
    # A local path only: `?next=abc` once went to redirect(), which took it for a view name.
    return safe_next(request, settings.LOGIN_REDIRECT_URL)


def _mark_verified(request: HttpRequest, device) -> None:
    # A new session key once the second factor is passed: a key seen before (on a shared
    # computer, in a log) is worth nothing afterwards.
    request.session.cycle_key()
    django_otp.login(request, device)


@login_only
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The code after the password: from the app, or a one-time recovery code."""
    user = request.user
    if user.is_verified() or not has_second_factor(user):
        return HttpResponseRedirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        throttle.check(request, otp_key(user))
        throttle.check_everywhere(request, otp_key(user), settings.OTP_USER_FAILURE_LIMIT)
        if form.is_valid():
            try:
                device = second_factor_verify(person=user, code=form.cleaned_data["code"])
            except PortalError as exc:
                throttle.failed(request, otp_key(user))
                form.add_error(exc.field, exc.message)
            else:
                throttle.succeeded(request, otp_key(user))
                _mark_verified(request, device)
                return HttpResponseRedirect(_next_url(request))
    return render(request, "signin/verify.html", {"form": form, "next": _next_url(request)})


@second_factor_people
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Connect an authenticator app (QR code or the secret typed by hand, then its first
    code); once connected: new recovery codes, or disconnect."""
    user = request.user
    device = totp_device(user)
    if device is not None:
        if not user.is_verified():
            return redirect(f"{reverse('two_factor_verify')}?{urlencode({'next': request.path})}")
        return render(
            request,
            "signin/manage.html",
            {
                "device": device,
                "codes_left": recovery_codes_left(user),
                "remove_form": RemoveDeviceForm(),
            },
        )
    key = request.session.get(PENDING_KEY)
    if not key:
        key = request.session[PENDING_KEY] = new_totp_key()
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = second_factor_enrol(
                person=user, key=key, code=form.cleaned_data["code"]
            )
        except PortalError as exc:
            if exc.field is None:
                request.session.pop(PENDING_KEY, None)
            form.add_error(exc.field, exc.message)
        else:
            request.session.pop(PENDING_KEY, None)
            _mark_verified(request, device)
            request.session[HAS_DEVICE] = True
            request.session[NEW_CODES] = codes
            messages.success(request, "Приложение подключено: теперь при входе портал спросит код.")
            codes = reverse("two_factor_codes")
            return redirect(f"{codes}?{urlencode({'next': _next_url(request)})}")
    return render(
        request,
        "signin/enrol.html",
        {
            "form": form,
            "next": _next_url(request),
            "required": settings.REQUIRE_2FA_FOR_MANAGERS,
            **enrolment(user, key),
        },
    )


@second_factor_people
def two_factor_codes(request: HttpRequest) -> HttpResponse:
    """GET: the recovery codes just made, shown this once. POST: ten new ones."""
    if request.method == "POST":
        try:
            codes = recovery_codes_renew(person=request.user)
        except PortalError as exc:
            messages.error(request, exc.message)
            return redirect("two_factor_setup")
        request.session[NEW_CODES] = codes
        return redirect("two_factor_codes")
    codes = request.session.pop(NEW_CODES, None)
    if not codes:
        return redirect("two_factor_setup")
    return render(request, "signin/codes.html", {"codes": codes, "next": _next_url(request)})


@require_POST
@second_factor_people
def two_factor_remove(request: HttpRequest) -> HttpResponse:
    form = RemoveDeviceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Приложение не отключено: введите ваш пароль.")
        return redirect("two_factor_setup")
    key = request.user.get_username()
    throttle.check(request, key)
    try:
        second_factor_remove(person=request.user, password=form.cleaned_data["password"])
    except PortalError as exc:
        if exc.field == "password":
            throttle.failed(request, key)
        messages.error(request, exc.message)
        return redirect("two_factor_setup")
    request.session[HAS_DEVICE] = False
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    messages.success(request, "Приложение отключено, коды восстановления больше не действуют.")
    return redirect("two_factor_setup")


login_view = public(LoginView.as_view())
logout_view = public(auth_views.LogoutView.as_view())
password_change_view = login_only(PasswordChangeView.as_view())
password_change_done_view = login_only(auth_views.PasswordChangeDoneView.as_view())
password_reset_view = public(PasswordResetView.as_view())
password_reset_done_view = public(auth_views.PasswordResetDoneView.as_view())
password_reset_confirm_view = public(PasswordResetConfirmView.as_view())
password_reset_complete_view = public(auth_views.PasswordResetCompleteView.as_view())


@login_only
def profile(request: HttpRequest) -> HttpResponse:
    """A person's own contacts (what they change is checked and recorded by
    `accounts.services.profile_update`), beside the links to the password and the second
    factor, which are this app's."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST":
        # The password asked again guards where a reset link goes: guessed on a session left
        # open, it counts on the sign-in's counters, as the confirm form's does
        # (tests/trust/test_secrets_are_throttled_everywhere.py).
        throttle.check(request, request.user.get_username())
        if form.is_valid():
            try:
                profile_update(user=request.user, **form.cleaned_data)
            except PortalError as exc:
                if exc.field == "password":
                    throttle.failed(request, request.user.get_username())
                form.add_error(exc.field, exc.message)
            else:
                messages.success(request, "Контактные данные сохранены.")
                return redirect("profile")
        messages.error(request, "Проверьте поля формы: изменения не сохранены.")
    return render(
        request, "signin/profile.html", {"form": form}, status=400 if form.errors else 200
    )
