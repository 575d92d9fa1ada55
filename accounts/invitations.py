"""Invitations: a one-time link to choose a password.

The token is built like Django's password-reset token: an HMAC over state that changes when
the link is used (the password hash) or replaced (the invitation's id), so a used, replaced or
expired link never works again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import segno
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from cdt_portal.emails import send_templated
from cdt_portal.pdf import render_pdf

from .models import Invitation, User

KEY_SALT = "cdt_portal.accounts.invitation"


def make_token(invitation: Invitation) -> str:
    user = invitation.user
    value = f"{invitation.pk}:{user.pk}:{user.password}:{invitation.created_at.timestamp()}"
    return salted_hmac(KEY_SALT, value, algorithm="sha256").hexdigest()[:40]


def invitation_url(invitation: Invitation, base_url: str) -> str:
    path = reverse(
        "invitation_accept", kwargs={"pk": invitation.pk, "token": make_token(invitation)}
    )
    return base_url.rstrip("/") + path


class InvitationInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_invitation(pk: int, token: str) -> Invitation:
    """The invitation if the link still works; otherwise a reason a person understands."""
    invitation = Invitation.objects.select_related("user__organisation").filter(pk=pk).first()
    if invitation is None or not constant_time_compare(make_token(invitation), token):
        if invitation is not None and invitation.used_at:
            raise InvitationInvalid("Эта ссылка уже использована: пароль по ней выбран.")
        raise InvitationInvalid("Ссылка-приглашение неверна или уже не действует.")
    if invitation.used_at:
        raise InvitationInvalid("Эта ссылка уже использована: пароль по ней выбран.")
    newest = invitation.user.invitations.order_by("-created_at", "-pk").first()
    if newest.pk != invitation.pk:
        raise InvitationInvalid("Вам выслали новое приглашение: эта ссылка заменена новой.")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid(
            f"Срок действия ссылки истёк {timezone.localtime(invitation.expires_at):%d.%m.%Y}."
        )
    if not invitation.user.is_active:
        raise InvitationInvalid("Учётная запись отключена.")
    return invitation


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    url: str
    emailed: bool


def invitation_issue(
    *, user: User, actor: User, base_url: str, send_email: bool = True
) -> IssuedInvitation:
    """A new invitation for the person; any older link of theirs stops working."""
    with transaction.atomic():
        invitation = Invitation.objects.create(
            user=user,
            created_by=actor,
            expires_at=timezone.now() + dt.timedelta(days=settings.INVITATION_DAYS),
        )
    url = invitation_url(invitation, base_url)
    emailed = False
    if send_email and user.email:
        send_templated(
            "invitation",
            to=[user.email],
            context={"person": user, "url": url, "invitation": invitation},
        )
        invitation.emailed_to = user.email
        invitation.save(update_fields=["emailed_to"])
        emailed = True
    return IssuedInvitation(invitation, url, emailed)


def invitation_accept(*, invitation: Invitation, password: str) -> User:
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.used_at:
            raise InvitationInvalid("Эта ссылка уже использована: пароль по ней выбран.")
        user = locked.user
        user.set_password(password)
        user.save(update_fields=["password"])
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
    return user


def invitation_sheet(issued: list[IssuedInvitation]) -> tuple[str, bytes]:
    """Cut-out slips, one per person: name, sign-in, the link and its QR code."""
    slips = []
    for item in issued:
        user = item.invitation.user
        qr = segno.make(item.url, error="m")
        slips.append(
            {
                "full_name": user.full_name,
                "username": user.username,
                "url": item.url,
                "qr": qr.svg_data_uri(scale=4, border=2),
                "expires": f"{timezone.localtime(item.invitation.expires_at):%d.%m.%Y}",
                "organisation": user.organisation.short_name if user.organisation else "",
            }
        )
    return render_pdf(
        "pdf/invitation_sheet.html", {"slips": slips}, filename="Приглашения в портал.pdf"
    )
