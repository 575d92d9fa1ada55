"""§4.5 of the regulation: the request page links to the online questionnaire (a setting, the
seed's link by default) and, before «Зарегистрирована», the administrator confirms that she
signed in to Sferum with the phone number given in the letter."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.models import RequestStatus
from onboarding.services import request_confirm_sent, request_register
from tests.onboarding.test_audit import Audit

PAGE = "/onboarding/request/"
TODAY = timezone.localdate
S = RequestStatus


def test_the_default_link_is_the_regulations():
    assert settings.SFERUM_QUESTIONNAIRE_URL == "https://vk.cc/cnEOTn"


def test_the_request_page_shows_the_link_while_the_letter_is_prepared(
    client, admin, organisation, settings
):
    settings.SFERUM_QUESTIONNAIRE_URL = "https://example.org/anketa"
    client.force_login(admin)
    client.post(reverse("request_start"))
    page = client.get(PAGE).content.decode()
    assert 'href="https://example.org/anketa"' in page
    assert "проверьте, что ссылка актуальна" in page


@pytest.fixture
def sent_request(ready_request, admin):
    return request_confirm_sent(request=ready_request, actor=admin, sent_on=TODAY())


def test_the_register_form_has_the_required_checkbox(client, admin, sent_request):
    client.force_login(admin)
    page = client.get(PAGE).content.decode()
    assert 'name="signed_in_confirmed"' in page
    assert "с номером телефона, указанным в письме о назначении" in page


def test_registering_without_the_confirmation_changes_nothing(client, admin, sent_request):
    client.force_login(admin)
    audit = Audit()
    response = client.post(reverse("request_register"), {"date": f"{TODAY()}"})
    assert response.status_code == 400  # the form again, with its error
    page = response.content.decode()
    assert "Подтвердите, что вы вошли в «Сферум» с номером телефона, указанным в письме." in page
    sent_request.refresh_from_db()
    assert sent_request.status == S.SENT and sent_request.registered_on is None
    assert audit.new() == []

    with pytest.raises(PortalError, match="Подтвердите, что вы вошли в «Сферум»") as refused:
        request_register(
            request=sent_request, actor=admin, registered_on=TODAY(), signed_in_confirmed=False
        )
    assert refused.value.field == "signed_in_confirmed"
    sent_request.refresh_from_db()
    assert sent_request.status == S.SENT
    assert audit.new() == []


def test_registering_with_the_confirmation_records_it(client, admin, sent_request):
    client.force_login(admin)
    audit = Audit()
    response = client.post(
        reverse("request_register"), {"date": f"{TODAY()}", "signed_in_confirmed": "on"}
    )
    assert response.status_code == 302 and response["Location"] == PAGE
    sent_request.refresh_from_db()
    assert (sent_request.status, sent_request.registered_on) == (S.REGISTERED, TODAY())
    entry = audit.only()
    assert entry.action == "request.registered" and entry.actor_id == admin.pk
    assert entry.data["signed_in_with_letter_phone"] is True
    assert entry.data["from"] == S.SENT and entry.data["to"] == S.REGISTERED


def test_the_director_may_not_register(client, director, sent_request):
    client.force_login(director)
    response = client.post(
        reverse("request_register"), {"date": f"{TODAY()}", "signed_in_confirmed": "on"}
    )
    assert response.status_code == 403
    sent_request.refresh_from_db()
    assert sent_request.status == S.SENT
    assert not AuditEntry.objects.filter(action="request.registered").exists()
