"""`cdt_portal.mailer.Mailer`: one SMTP connection for a run of letters, checked before each
reuse, with the same outcomes as a connection per letter. Against a real SMTP server on
127.0.0.1 (tests/accounts/smtp_server)."""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from cdt_portal import mailer as mailing
from cdt_portal.mailer import REFUSED, SENT, TEMPORARY, UNKNOWN, Mailer, Outcome
from tests.accounts.smtp_server import smtp_server, wait_until


def letter(to: str) -> EmailMessage:
    return EmailMessage(subject="Напоминание", body="Текст", to=[to])


def test_a_run_of_letters_goes_through_one_connection_checked_before_each_reuse():
    people = [f"p{i}@example.ru" for i in range(5)]
    with smtp_server() as server, Mailer() as mailer:
        results = [mailer.send(letter(to)) for to in people]
    assert results == [Outcome(SENT, "", 1)] * 5
    assert server.connections == 1
    assert server.letters == [(to,) for to in people]
    assert (server.commands["EHLO"], server.commands["NOOP"]) == (1, 4)


def test_leaving_the_mailer_closes_its_connection():
    with smtp_server() as server:
        with Mailer() as mailer:
            mailer.send(letter("a@example.ru"))
            assert server.open_sessions() == 1
        wait_until(lambda: server.open_sessions() == 0)


@pytest.mark.parametrize("how", ["421", "close", "reset"])
def test_a_connection_the_server_dropped_while_idle_is_reopened_and_the_letter_sent_once(how):
    """Without the check, the letter would go to a dead line and be recorded as «may have
    been sent» (UNKNOWN) although the server never saw it."""
    with smtp_server() as server, Mailer() as mailer:
        assert mailer.send(letter("a@example.ru")) == Outcome(SENT, "", 1)
        server.drop_all(how)  # the server's idle timeout
        assert mailer.send(letter("b@example.ru")) == Outcome(SENT, "", 1)
        assert mailer.send(letter("c@example.ru")) == Outcome(SENT, "", 1)
    assert server.connections == 2
    assert server.letters == [("a@example.ru",), ("b@example.ru",), ("c@example.ru",)]


def test_a_server_that_closes_idle_connections_by_itself():
    with smtp_server(idle_timeout=0.2) as server, Mailer() as mailer:
        assert mailer.send(letter("a@example.ru")) == Outcome(SENT, "", 1)
        time.sleep(0.5)  # the server answers «421» and hangs up meanwhile
        assert mailer.send(letter("b@example.ru")) == Outcome(SENT, "", 1)
    assert server.connections == 2
    assert server.received() == {"a@example.ru": 1, "b@example.ru": 1}


def test_a_server_that_takes_two_letters_per_connection():
    people = [f"p{i}@example.ru" for i in range(5)]
    with smtp_server(letters_per_connection=2) as server, Mailer() as mailer:
        results = [mailer.send(letter(to)) for to in people]
    assert results == [Outcome(SENT, "", 1)] * 5
    assert server.connections == 3
    assert server.letters == [(to,) for to in people]


def test_a_server_that_is_busy_after_two_letters_per_connection_costs_no_retry():
    """«421 too many messages» on a kept connection is about the connection: the letter goes
    at once on a new one, as it would have with a connection of its own: no attempt counted,
    so no back-off wait (MAIL_RETRY_DELAY) either."""
    people = [f"p{i}@example.ru" for i in range(5)]
    with smtp_server(busy_after=2) as server, Mailer() as mailer:
        results = [mailer.send(letter(to)) for to in people]
    assert results == [Outcome(SENT, "", 1)] * 5
    assert server.connections == 3
    assert server.letters == [(to,) for to in people]


def test_after_a_refusal_the_connection_is_closed_and_the_next_letter_opens_a_new_one():
    with smtp_server() as server, Mailer() as mailer:
        server.refuse["b@example.ru"] = "550 5.1.1 no such user"
        assert mailer.send(letter("a@example.ru")) == Outcome(SENT, "", 1)
        assert mailer.send(letter("b@example.ru")) == Outcome(REFUSED, "550 5.1.1 no such user", 1)
        assert mailer.send(letter("c@example.ru")) == Outcome(SENT, "", 1)
    assert server.connections == 2
    assert server.letters == [("a@example.ru",), ("c@example.ru",)]


def test_a_temporary_refusal_is_tried_again_each_time_on_a_new_connection(settings):
    settings.MAIL_SEND_RETRIES = 2
    with smtp_server() as server, Mailer() as mailer:
        assert mailer.send(letter("a@example.ru")) == Outcome(SENT, "", 1)
        server.refuse["b@example.ru"] = "451 4.7.1 try again later"
        assert mailer.send(letter("b@example.ru")) == Outcome(
            TEMPORARY, "451 4.7.1 try again later", 3
        )
        del server.refuse["b@example.ru"]
        assert mailer.send(letter("b@example.ru")) == Outcome(SENT, "", 1)
    # b's first try on a's connection is answered «451» too, so it is repeated at once on a
    # new connection, uncounted; then two more tries, each on a new connection; then b again.
    assert server.connections == 1 + 1 + 2 + 1
    assert server.commands["RCPT"] == 1 + 4 + 1
    assert server.received() == {"a@example.ru": 1, "b@example.ru": 1}


def test_a_letter_the_server_went_quiet_on_is_unknown_and_the_next_goes_on_a_new_line():
    with smtp_server() as server, Mailer() as mailer:
        server.stall.add("b@example.ru")
        assert mailer.send(letter("a@example.ru")) == Outcome(SENT, "", 1)
        result = mailer.send(letter("b@example.ru"))  # EMAIL_TIMEOUT is 1 s here
        assert (result.outcome, result.attempts) == (UNKNOWN, 1)
        assert "нет связи с почтовым сервером" in result.error
        assert mailer.send(letter("c@example.ru")) == Outcome(SENT, "", 1)
    assert server.connections == 2
    assert server.received() == {"a@example.ru": 1, "b@example.ru": 1, "c@example.ru": 1}


def test_no_server_is_a_temporary_refusal_and_the_mailer_tries_again_later(settings):
    settings.MAIL_SEND_RETRIES = 1
    with smtp_server() as server:
        port = server.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 1
    with Mailer() as mailer:
        result = mailer.send(letter("a@example.ru"))
    assert (result.outcome, result.attempts) == (TEMPORARY, 2)
    assert "ConnectionRefusedError" in result.error


def test_with_a_backend_that_is_not_smtp_one_backend_serves_the_run(monkeypatch):
    """The tests' locmem backend (and the file backend of `make run`): nothing to check."""
    opened = []
    real = mailing.get_connection
    monkeypatch.setattr(mailing, "get_connection", lambda **kw: opened.append(1) or real(**kw))
    with Mailer() as mailer:
        results = [mailer.send(letter(f"p{i}@example.ru")) for i in range(3)]
    assert results == [Outcome(SENT, "", 1)] * 3
    assert len(opened) == 1
    assert [m.to for m in mail.outbox] == [[f"p{i}@example.ru"] for i in range(3)]
