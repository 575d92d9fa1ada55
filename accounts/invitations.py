"""Invitations: a one-time link to choose a password. Pure helpers; issuing and accepting
are in `services`, checking a link in `selectors`.

The token is built like Django's password-reset token: an HMAC over state that changes when
the link is used (the password hash) or replaced (the invitation's id), so a used, replaced or
expired link never works again.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

import segno
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from cdt_portal.emails import portal_name
from cdt_portal.pdf import render_pdf

from .models import Invitation

KEY_SALT = "cdt_portal.accounts.invitation"

# Said both when a used link is opened and when a second tab tries to use it again.
LINK_USED = "Эта ссылка уже использована: пароль по ней выбран."


def make_token(invitation: Invitation) -> str:
    user = invitation.user
    value = f"{invitation.pk}:{user.pk}:{user.password}:{invitation.created_at.timestamp()}"
    return salted_hmac(KEY_SALT, value, algorithm="sha256").hexdigest()[:40]


def invitation_url(invitation: Invitation, base_url: str) -> str:
    path = reverse(
        "invitation_accept", kwargs={"pk": invitation.pk, "token": make_token(invitation)}
    )
    return base_url.rstrip("/") + path


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    url: str
    emailed: bool


# How long a manager's invitation code works once its letter is sent.
CODE_MINUTES = 30


def code_expires_at(invitation: Invitation) -> dt.datetime | None:
    """When the invitation's last code stops working (None: no code was sent)."""
    if invitation.code_sent_at is None:
        return None
    return invitation.code_sent_at + dt.timedelta(minutes=CODE_MINUTES)


def mask_email(email: str) -> str:
    """Enough of an address for its owner to recognise it, not enough to learn it from the
    page: «iv***@example.ru»."""
    name, _, domain = email.partition("@")
    return f"{name[:2]}***@{domain}" if domain else "***"


def url_parts(url: str) -> list[str]:
    """The link cut after each «/» (and before a «?»): where it may wrap on a slip, so it wraps
    at a slash, not anywhere."""
    return [part for part in re.split(r"(?<=/)(?!/)|(?=\?)", url) if part]


# The sheet's name when it is opened or saved.
SLIPS_FILENAME = "Приглашения в портал.pdf"


def invitation_slip(item: IssuedInvitation) -> dict:
    """One cut-out slip as plain data: name, sign-in, the link and its QR code. Dates are on
    the organisation's clock, whoever prints the sheet and wherever."""
    user = item.invitation.user
    organisation = user.organisation
    zone = zoneinfo.ZoneInfo(organisation.time_zone if organisation else settings.TIME_ZONE)
    qr = segno.make(item.url, error="m")
    return {
        "full_name": user.full_name,
        "username": user.username,
        "url": item.url,
        "url_parts": url_parts(item.url),
        "qr": qr.svg_data_uri(scale=4, border=2),
        "expires": f"{timezone.localtime(item.invitation.expires_at, zone):%d.%m.%Y %H:%M}",
        "portal": portal_name(organisation, word="портал"),
        "messenger": organisation.messenger_texts.short if organisation else "",
    }


def render_invitation_slips(slips: list[dict]) -> tuple[str, bytes]:
    """The sheet of slips built by `invitation_slip`, one after another."""
    return render_pdf("pdf/invitation_sheet.html", {"slips": slips}, filename=SLIPS_FILENAME)
