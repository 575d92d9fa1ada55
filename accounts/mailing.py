"""Handing one letter to the mail server and telling what happened: sent, refused for good,
refused for now (worth another try), or unknown (the line went quiet after the server may have
taken it, so trying again could send it twice). Writes nothing; `services` records the result.

The same distinction as `onboarding.services._deliver` for the registration e-mail, plus the
temporary refusals (SMTP 4xx, a server that does not let us in) that a job retries with
back-off before it records «не отправлено».
"""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

SENT, REFUSED, TEMPORARY, UNKNOWN = "sent", "refused", "temporary", "unknown"


@dataclass(frozen=True)
class Delivery:
    outcome: str
    error: str = ""
    attempts: int = 1


def _close(connection) -> None:
    """Close without QUIT: after a timeout a polite QUIT would wait EMAIL_TIMEOUT again."""
    smtp = getattr(connection, "connection", None)
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass
        connection.connection = None
    else:
        try:
            connection.close()
        except Exception:
            pass


def _is_temporary(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return False


def _describe(exc: Exception) -> str:
    """The reason as a person reads it on the results page."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
        return f"нет связи с почтовым сервером ({type(exc).__name__}: {exc})"
    return str(exc) or type(exc).__name__


def _text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else message


def deliver_once(message: EmailMessage) -> Delivery:
    connection = get_connection(fail_silently=False)
    try:
        connection.open()  # connecting, TLS and login: nothing is accepted yet
    except Exception as exc:
        _close(connection)
        return Delivery(TEMPORARY, _describe(exc))
    try:
        connection.send_messages([message])
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        return Delivery(TEMPORARY if _is_temporary(exc) else REFUSED, _describe(exc))
    except (smtplib.SMTPNotSupportedError, ConnectionRefusedError) as exc:
        return Delivery(REFUSED, _describe(exc))
    except Exception as exc:
        return Delivery(UNKNOWN, _describe(exc))
    finally:
        _close(connection)
    return Delivery(SENT)


def deliver(message: EmailMessage) -> Delivery:
    """Send, trying again after a temporary refusal: MAIL_SEND_RETRIES more times,
    waiting MAIL_RETRY_DELAY seconds, then twice that, and so on (0 in tests)."""
    retries = settings.MAIL_SEND_RETRIES
    delay = settings.MAIL_RETRY_DELAY
    attempt = 0
    while True:
        attempt += 1
        result = deliver_once(message)
        if result.outcome != TEMPORARY or attempt > retries:
            return Delivery(result.outcome, result.error, attempt)
        if delay:
            time.sleep(delay * 2 ** (attempt - 1))
