"""Handing one letter to the mail server and telling what happened: sent, refused for good,
refused for now (worth another try), or unknown (the line went quiet after the server may have
taken it, so trying again could send it twice). Writes nothing: the outbox
(`cdt_portal.outbox`) records the outcome of each letter. A temporary refusal (SMTP 4xx, a
server that does not let us in) is tried again with back-off before it counts as «не
отправлено».

Every letter goes through `Mailer`: a job that sends many letters keeps one connection for all
of them, a single letter is a run of one.
"""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

SENT, REFUSED, TEMPORARY, UNKNOWN = "sent", "refused", "temporary", "unknown"


@dataclass(frozen=True)
class Outcome:
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


class Mailer:
    """One connection to the mail server for many letters (a job's whole run), used as
    `with Mailer() as mailer: mailer.send(message)`. The connection is opened with the first
    letter and kept for the next one. The outcomes are those of a fresh connection per letter:

    - before a kept connection is used again, a NOOP asks whether the server still holds it
      (servers drop a line that was idle too long, or after so many letters); a line found
      dead is closed and a new one opened, so no letter is ever handed to a dead line, and
      that never counts as «unknown»;
    - after any error while sending, the connection is closed: the next letter opens a new one
      (nobody knows what state the old one is in);
    - a temporary refusal (4xx) on a kept connection is tried once more at once on a new
      connection, uncounted: with a connection per letter it would not have happened.
    """

    def __init__(self) -> None:
        self._connection = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            _close(connection)

    def send(self, message: EmailMessage) -> Outcome:
        """Send, trying again after a temporary refusal: MAIL_SEND_RETRIES more times,
        waiting MAIL_RETRY_DELAY seconds, then twice that, and so on (0 in tests)."""
        retries = settings.MAIL_SEND_RETRIES
        delay = settings.MAIL_RETRY_DELAY
        attempt = 0
        while True:
            attempt += 1
            result = self.send_once(message)
            if result.outcome != TEMPORARY or attempt > retries:
                return Outcome(result.outcome, result.error, attempt)
            if delay:
                time.sleep(delay * 2 ** (attempt - 1))

    def send_once(self, message: EmailMessage) -> Outcome:
        if self._connection is not None:
            if self._still_open():
                result = self._send(message)
                if result.outcome != TEMPORARY:
                    return result
                # «Not now» on a kept connection may be about the connection, not the letter
                # (servers limit letters per connection): the letter gets at once the new
                # connection it would have had on its own, and only that try counts.
            self.close()
        connection = get_connection(fail_silently=False)
        try:
            connection.open()  # connecting, TLS and login: nothing is accepted yet
        except Exception as exc:
            _close(connection)
            return Outcome(TEMPORARY, _describe(exc))
        self._connection = connection
        return self._send(message)

    def _send(self, message: EmailMessage) -> Outcome:
        try:
            # The backend keeps a connection it did not open itself: it stays for the next.
            self._connection.send_messages([message])
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            self.close()
            return Outcome(TEMPORARY if _is_temporary(exc) else REFUSED, _describe(exc))
        except (smtplib.SMTPNotSupportedError, ConnectionRefusedError) as exc:
            self.close()
            return Outcome(REFUSED, _describe(exc))
        except Exception as exc:
            self.close()
            return Outcome(UNKNOWN, _describe(exc))
        return Outcome(SENT)

    def _still_open(self) -> bool:
        """Whether the kept connection still answers. Nothing of a letter has been sent on it
        since the last one was accepted, so a dead line here costs nothing but a reconnect."""
        if not hasattr(self._connection, "connection"):
            return True  # not SMTP (locmem, file, console): there is no line to lose
        smtp = self._connection.connection
        if smtp is None:
            return False
        try:
            code, _ = smtp.noop()
        except Exception:  # SMTPServerDisconnected, a reset, a timeout
            return False
        return code == 250
