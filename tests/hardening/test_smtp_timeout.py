"""Finding 6: with a slow mail server the message was delivered, the worker was killed, the
request stayed «Готова к отправке», and a second press sent it twice. Now EMAIL_TIMEOUT
applies, a send that times out after the server took the message leaves the request
«Отправка не подтверждена», and only the administrator's explicit choice moves it on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cdt_portal.models import AuditEntry
from onboarding.models import RegistrationRequest, RequestStatus
from tests.hardening.servers import StallingSMTPServer, closed_port

S = RequestStatus


@pytest.fixture
def smtp_to(settings):
    def point_at(port: int) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 1

    return point_at


def press(client, choice: str = ""):
    url = reverse("request_send") + (f"?choice={choice}" if choice else "")
    return client.post(url, follow=True)


def status(registration) -> str:
    registration.refresh_from_db()
    return registration.status


def test_a_send_that_times_out_after_data_is_unconfirmed_and_never_resent_alone(
    client, admin, ready_request, smtp_to
):
    client.force_login(admin)
    with StallingSMTPServer(stall=True) as server:
        smtp_to(server.port)
        response = press(client)
        text = response.content.decode()
        assert len(server.messages) == 1  # the server has the message...
        assert status(ready_request) == S.UNCONFIRMED  # ...and the portal says it cannot know
        assert "Отправка не подтверждена: проверьте папку «Отправленные»" in text
        assert "Письмо дошло" in text and "Отправить ещё раз" in text
        entry = AuditEntry.objects.filter(action="request.unconfirmed").get()
        assert entry.data["from"] == S.READY and entry.data["to"] == S.UNCONFIRMED

        # A second press of «Отправить» without a choice: refused, nothing sent.
        response = press(client)
        assert "Нельзя отправить заявку" in response.content.decode()
        assert server.connections == 1 and len(server.messages) == 1
        assert status(ready_request) == S.UNCONFIRMED

        # The administrator found it in «Отправленные»: sent, still one message.
        press(client, "delivered")
        assert status(ready_request) == S.SENT
        assert server.connections == 1 and len(server.messages) == 1
    ready_request.refresh_from_db()
    assert ready_request.sent_at == entry.at  # the time of the attempt that delivered it
    assert AuditEntry.objects.filter(action="request.sent").count() == 1


def test_resending_is_the_administrators_explicit_choice(client, admin, ready_request, smtp_to):
    client.force_login(admin)
    with StallingSMTPServer(stall=True) as server:
        smtp_to(server.port)
        press(client)
        assert status(ready_request) == S.UNCONFIRMED
    with StallingSMTPServer(stall=False) as server:
        smtp_to(server.port)
        response = press(client, "resend")
        assert "Заявка отправляется ещё раз на info@sferum.ru." in response.content.decode()
        assert len(server.messages) == 1
    assert status(ready_request) == S.SENT
    message_ids = [
        line for line in server.messages[0].split(b"\r\n") if line.startswith(b"Message-ID:")
    ]
    assert message_ids == [f"Message-ID: {ready_request.message_id}".encode()]


def test_a_refused_connection_leaves_the_request_ready_with_the_error(
    client, admin, ready_request, smtp_to
):
    client.force_login(admin)
    smtp_to(closed_port())
    response = press(client)
    text = response.content.decode()
    assert "Письмо не отправлено, заявка осталась «Готова к отправке»" in text
    assert status(ready_request) == S.READY
    assert not AuditEntry.objects.filter(action__in=["request.sent", "request.unconfirmed"])


def test_an_unknown_choice_changes_nothing(client, admin, ready_request):
    client.force_login(admin)
    response = press(client, "twice")
    assert "Неизвестное действие" in response.content.decode()
    assert RegistrationRequest.objects.get().status == S.READY
