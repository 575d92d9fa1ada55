"""Every change in signin writes exactly one audit entry; every refusal writes nothing."""

import pytest
from django.db.models import Max
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cdt_portal.audit import ACTION_LABELS
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from signin import services
from tests import audit_observer
from tests.factories import PASSWORD

from .helpers import code_for, enrol

AUDITED_SERVICES = {
    "second_factor_enrol": "signin.second_factor.enabled",
    "second_factor_verify": "signin.recovery_code.used",  # a recovery code; the app's: none
    "recovery_codes_renew": "signin.recovery_codes.renewed",
    "second_factor_remove": "signin.second_factor.disabled",
    "lockout_record": "signin.locked_out",
    # The reset's walk: tests/trust/test_throttle_counts_what_attackers_do.py.
    "password_reset_recorded": "signin.password_reset",
    "password_change_recorded": "signin.password_changed",
}
NOT_AUDITED: dict[str, str] = {}


observed = audit_observer.observed_fixture("signin")


KEY = "3132333435363738393031323334353637383930"


def mark() -> int:
    return AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0


def since(start: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=start).order_by("pk"))


def test_every_action_has_a_russian_label():
    for action in AUDITED_SERVICES.values():
        assert action in ACTION_LABELS


def test_enrol(director):
    start = mark()
    device, codes = enrol(director, KEY)
    [entry] = since(start)
    assert (entry.action, entry.actor_id, entry.organisation_id) == (
        "signin.second_factor.enabled", director.pk, director.organisation_id
    )  # fmt: skip
    assert entry.data == {"device": "totp", "recovery_codes": 10}
    assert device.confirmed and len(codes) == 10


def test_enrol_refused_writes_nothing(director):
    start = mark()
    with pytest.raises(PortalError):
        services.second_factor_enrol(person=director, key=KEY, code="000000x")
    enrol(director, KEY)
    start = mark()
    with pytest.raises(PortalError):
        services.second_factor_enrol(person=director, key=KEY, code=code_for(KEY, ahead=1))
    assert since(start) == []
    assert TOTPDevice.objects.filter(user=director).count() == 1


def test_verify_with_the_app_writes_no_entry_and_a_recovery_code_one(director):
    device, codes = enrol(director, KEY)
    start = mark()
    assert services.second_factor_verify(person=director, code=code_for(KEY, ahead=1)) == device
    assert since(start) == []
    services.second_factor_verify(person=director, code=codes[3])
    [entry] = since(start)
    assert entry.action == "signin.recovery_code.used"
    assert not StaticToken.objects.filter(token=codes[3]).exists()


def test_a_wrong_code_writes_nothing_at_all(director):
    device, codes = enrol(director, KEY)
    before = (TOTPDevice.objects.values_list().get(pk=device.pk), StaticToken.objects.count())
    start = mark()
    for code in ["000000", "abcdefgh", "", codes[0] + "x"]:
        with pytest.raises(PortalError):
            services.second_factor_verify(person=director, code=code)
    assert since(start) == []
    assert (
        TOTPDevice.objects.values_list().get(pk=device.pk),
        StaticToken.objects.count(),
    ) == before


def test_renew_codes(director):
    _, old = enrol(director, KEY)
    start = mark()
    new = services.recovery_codes_renew(person=director)
    [entry] = since(start)
    assert entry.action == "signin.recovery_codes.renewed"
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert not set(old) & set(new)


def test_renew_without_an_app_is_refused(director):
    start = mark()
    with pytest.raises(PortalError):
        services.recovery_codes_renew(person=director)
    assert since(start) == []


def test_remove(director):
    enrol(director, KEY)
    start = mark()
    with pytest.raises(PortalError):
        services.second_factor_remove(person=director, password="wrong")
    assert since(start) == []
    services.second_factor_remove(person=director, password=PASSWORD)
    [entry] = since(start)
    assert entry.action == "signin.second_factor.disabled"
    assert not TOTPDevice.objects.filter(user=director).exists()
    assert not StaticToken.objects.exists()


def test_lockout_record(teacher):
    start = mark()
    services.lockout_record(key="teacher", person=teacher, until=None, failures=5)
    [entry] = since(start)
    assert (entry.action, entry.actor_id, entry.organisation_id) == (
        "signin.locked_out", None, teacher.organisation_id
    )  # fmt: skip


def test_a_password_change_is_recorded(client, teacher):
    from tests.factories import PASSWORD

    client.force_login(teacher)
    start = mark()
    response = client.post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "Снег-на-крыше-2026",
            "new_password2": "Снег-на-крыше-2026",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/accounts/password/change/done/")
    [entry] = since(start)
    assert (entry.action, entry.actor_id, entry.object_id, entry.data) == (
        "signin.password_changed",
        teacher.pk,
        str(teacher.pk),
        {},
    )


def test_a_password_reset_is_recorded_and_forgives_the_counted_failures(rf, teacher):
    from cdt_portal import throttle

    throttle.failed(rf.post("/accounts/login/"), teacher.username)
    start = mark()
    services.password_reset_recorded(person=teacher)
    [entry] = since(start)
    assert (entry.action, entry.actor_id, entry.object_id) == (
        "signin.password_reset", teacher.pk, str(teacher.pk)
    )  # fmt: skip
    assert entry.data == {"attempts_cleared": 1}


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py)."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
