"""What changed, on the audit page and a person's history: keys by their Russian names (a
model field's own verbose name, or the name an app registered), codes by their labels, dates
as 30.11.2023, checksums by their beginning; a key nobody named is shown as it is."""

from __future__ import annotations

import re
import zoneinfo

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts.models import StudyGroup, User
from acknowledgements.models import DocumentVersion
from cdt_portal.audit import describe_data, describe_entries
from cdt_portal.models import AuditEntry
from families.models import ConsentText
from onboarding.models import RegistrationRequest


def entry(model, data: dict) -> AuditEntry:
    return AuditEntry(content_type=ContentType.objects.get_for_model(model), data=data)


def test_each_kind_of_value_reads_as_a_person_writes_it(db):
    assert describe_data(entry(User, {"roles": [["teacher"], ["admin", "teacher"]]})) == (
        "роли: педагог → администратор ИКОП «Сферум», педагог"
    )
    assert describe_data(entry(User, {"roles": ["director", "admin"], "fields": ["email"]})) == (
        "поля: email; роли: руководитель, администратор ИКОП «Сферум»"
    )
    assert describe_data(entry(DocumentVersion, {"read_by": [None, "2027-01-06"]})) == (
        "срок ознакомления: — → 06.01.2027"
    )
    request = {"from": "returned", "to": "awaiting_signature", "comment": ""}
    assert describe_data(entry(RegistrationRequest, request)) == (
        "комментарий: —; было: Возвращена на доработку; стало: На подписи"
    )
    assert describe_data(entry(User, {"from": "profile_created", "to": "verified"})) == (
        "статус был: учебный профиль создан; статус стал: статус «учитель» подтверждён"
    )
    # A field's own verbose name first; the general label where the model gave none (a
    # consent text's field is called «text sha256» by Django's default).
    checksum = "e149df4c943fea6dd6407e38be604989caf8369323572c2a65e7549f4fad5203"
    assert describe_data(entry(DocumentVersion, {"text_sha256": checksum})) == (
        "SHA-256 текста: e149df4c943f…"
    )
    assert describe_data(entry(ConsentText, {"text_sha256": checksum})) == (
        "контрольная сумма текста: e149df4c943f…"
    )
    # A moment on the clock of the zone the page is shown in (the organisation's, set by its
    # middleware; here Moscow, whatever an earlier test left active).
    locked = {"until": "2026-12-07T03:16:17.010081+00:00", "failures": 5, "active": False}
    with timezone.override(zoneinfo.ZoneInfo("Europe/Moscow")):
        assert describe_data(entry(User, locked)) == (
            "включить: нет; неудачных попыток: 5; до: 07.12.2026 06:16"
        )
    with timezone.override(zoneinfo.ZoneInfo("Asia/Vladivostok")):
        assert describe_data(entry(User, locked)).endswith("до: 07.12.2026 13:16")
    text = "Абзац. " * 30
    assert describe_data(entry(DocumentVersion, {"text": [text, text + "Ещё."]})) == (
        f"текст: {text[:80].rstrip()}… → {text[:80].rstrip()}…"
    )
    assert describe_data(entry(User, {"something_new": 1})) == "something_new: 1"


def test_no_entry_of_the_demo_shows_a_bare_key_or_a_year_first_date(db):
    from portal.demo import load_demo

    load_demo()
    shown = [describe_data(e) for e in AuditEntry.objects.exclude(data={})]
    assert shown
    keys = {key for e in AuditEntry.objects.exclude(data={}) for key in e.data}
    raw = [line for line in shown if any(re.search(rf"(^|; ){key}: ", line) for key in keys)]
    assert raw == []
    assert [line for line in shown if re.search(r"\d{4}-\d{2}-\d{2}", line)] == []


def test_people_are_named_not_numbered_and_only_the_organisations_own(
    client, admin, parent, student, outsider
):
    """A consent's entry names the student and the parent by id; a guardianship's entry keeps
    the parent's name as it was. The page shows names; an id of another organisation's person
    stays a number, so the log never reads out who that is."""
    from accounts.services import guardianship_unlink
    from tests.families.builders import give_consent

    give_consent(parent, student)
    guardianship_unlink(actor=admin, parent_id=parent.pk, student=student)
    consent = AuditEntry.objects.get(action="consent.given")
    unlinked = AuditEntry.objects.get(action="guardianship.unlinked")
    assert consent.data["student"] == student.pk and consent.data["parent"] == parent.pk
    assert unlinked.data["parent"] == [parent.pk, parent.full_name]

    organisation = admin.organisation_id
    described = {
        e.action: e.description for e in describe_entries([consent, unlinked], organisation)
    }
    parts = described["consent.given"].split("; ")
    assert parts[:2] == ["как дано: в портале", f"родитель: {parent.full_name}"]
    assert f"обучающийся: {student.full_name}" in parts
    assert described["guardianship.unlinked"] == f"родитель: {parent.full_name}"

    foreign = entry(StudyGroup, {"person": outsider.pk, "students": [[student.pk], [outsider.pk]]})
    assert describe_entries([foreign], organisation)[0].description == (
        f"человек: {outsider.pk}; обучающиеся: {student.full_name} → {outsider.pk}"
    )

    client.force_login(admin)
    page = client.get("/audit/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"обучающийся: {student.full_name}" in text
    assert f"родитель: {parent.full_name}</td>" in text
