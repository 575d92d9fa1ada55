"""An editorial correction, marked by the director at approval with a reason, does not ask
staff again: the acknowledgements of the version it corrects count for it (no row is copied,
so the sheet keeps the original dates). A substantive version asks everyone again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from acknowledgements.documents import sheet_rows
from acknowledgements.models import Acknowledgement, DocumentVersion, VersionStatus
from acknowledgements.selectors import (
    acknowledgement_progress,
    counted_version_ids,
    pending_readers,
    reading_status,
    version_history,
)
from acknowledgements.services import (
    acknowledgement_confirm,
    acknowledgement_record_paper,
    version_approve,
    version_create,
)
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.acknowledgements.builders import REGULATION_TEXT, make_version
from tests.factories import PASSWORD

REASON = "Исправлена опечатка в п. 2, смысл не изменился"


CORRECTED_TEXT = REGULATION_TEXT.replace("первого", "1-го")


def new_draft(regulation, director, text=CORRECTED_TEXT):
    return version_create(
        organisation=regulation.document.organisation,
        actor=director,
        title=regulation.title,
        text=text,
        order_number="15-О",
        order_date=dt.date(2024, 2, 1),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )


def confirm(version, person):
    return acknowledgement_confirm(
        version=version, person=person, password=PASSWORD, ip_address="10.0.0.1", user_agent="t"
    )


@pytest.fixture
def teacher_read_first(regulation, teacher):
    ack, created = confirm(regulation, teacher)
    assert created
    return ack


def test_the_director_marks_an_editorial_correction_with_its_reason(
    client, director, regulation, teacher_read_first
):
    draft = new_draft(regulation, director)
    since = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    client.force_login(director)
    response = client.post(
        reverse("version_approve", kwargs={"pk": draft.pk}),
        {"editorial": "on", "editorial_reason": f"  {REASON} "},
    )
    assert (response.status_code, response["Location"]) == (
        302,
        f"/regulation/versions/{draft.pk}/",
    )
    draft.refresh_from_db()
    assert (draft.status, draft.editorial, draft.editorial_reason, draft.corrects) == (
        VersionStatus.APPROVED,
        True,
        REASON,
        regulation,
    )
    entries = AuditEntry.objects.filter(pk__gt=since).order_by("pk")
    assert [(e.action, e.object_id) for e in entries] == [
        ("version.approval_started", str(draft.pk)),
        ("version.superseded", str(regulation.pk)),
        ("version.approved", str(draft.pk)),
    ]
    started, _, approved = entries
    assert started.data == {
        "order_label": draft.order_label,
        "editorial": True,
        "editorial_reason": REASON,
    }
    assert approved.actor == director
    assert approved.data == {
        "order_label": draft.order_label,
        "text_sha256": draft.text_sha256,
        "editorial": True,
        "editorial_reason": REASON,
        "corrects": 1,
    }
    notes = [note for _, note in version_history(draft)]
    assert f"{draft.order_label}; редакционная правка: {REASON}" in notes
    page = client.get(response["Location"]).content.decode()
    assert "Редакционная правка редакции 1" in page and REASON in page


def test_staff_who_read_the_corrected_version_count_as_having_read_it(
    client, director, admin, teacher, regulation, teacher_read_first
):
    rows_before = Acknowledgement.objects.count()
    editorial = version_approve(
        version=new_draft(regulation, director),
        actor=director,
        editorial=True,
        editorial_reason=REASON,
    )
    assert Acknowledgement.objects.count() == rows_before  # nothing copied
    assert counted_version_ids(editorial) == [editorial.pk, regulation.pk]
    status = reading_status(teacher)
    assert (status.version, status.acknowledgement, status.must_read) == (
        editorial,
        teacher_read_first,
        False,
    )
    assert list(pending_readers(editorial)) == [admin]
    progress = acknowledgement_progress(editorial, editorial.document.organisation)
    assert (progress.done, progress.total) == (1, 2)
    # Confirming again finds the confirmation of the corrected version: no new row.
    assert confirm(editorial, teacher) == (teacher_read_first, False)
    assert Acknowledgement.objects.count() == rows_before
    with pytest.raises(PortalError, match="уже ознакомлен"):
        acknowledgement_record_paper(
            version=editorial, person=teacher, paper_date=dt.date.today(), recorded_by=admin
        )
    # Someone who had not read it is asked, and their row is on the new version.
    ack, created = confirm(editorial, admin)
    assert created and ack.version == editorial
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert "редакционная правка, повторно знакомиться не нужно" in page
    assert "Подтвердите ознакомление" not in page


def test_the_sheet_of_an_editorial_version_keeps_the_original_dates(
    client, director, admin, teacher, regulation, teacher_read_first
):
    paper = acknowledgement_record_paper(
        version=regulation, person=admin, paper_date=dt.date(2024, 1, 10), recorded_by=admin
    )
    editorial = version_approve(
        version=new_draft(regulation, director),
        actor=director,
        editorial=True,
        editorial_reason=REASON,
    )
    rows = {row.full_name: row for row in sheet_rows(editorial)}
    assert rows[admin.full_name].date == "10.01.2024" == f"{paper.acknowledged_on:%d.%m.%Y}"
    assert rows[admin.full_name].note == "с редакцией\u00a01 (изменения редакционные)"
    teacher_row = rows[teacher.full_name]
    assert teacher_row.date == f"{teacher_read_first.acknowledged_on:%d.%m.%Y}"
    assert teacher_row.note.startswith("подтверждено в портале ")
    assert teacher_row.note.endswith("; с редакцией\u00a01 (изменения редакционные)")
    client.force_login(admin)
    page = client.get(reverse("acknowledgement_list")).content.decode()
    assert "на бумаге, с редакцией 1" in page


def test_a_chain_of_corrections_still_counts_the_first_reading(
    director, admin, teacher, regulation, teacher_read_first
):
    second = version_approve(
        version=new_draft(regulation, director), actor=director, editorial=True,
        editorial_reason=REASON,
    )  # fmt: skip
    third = version_approve(
        version=new_draft(second, director, text=REGULATION_TEXT), actor=director,
        editorial=True, editorial_reason=REASON,
    )  # fmt: skip
    assert counted_version_ids(third) == [third.pk, second.pk, regulation.pk]
    assert list(pending_readers(third)) == [admin]


def test_a_substantive_version_asks_everyone_again(
    client, director, admin, teacher, regulation, teacher_read_first
):
    draft = new_draft(regulation, director)
    client.force_login(director)
    response = client.post(reverse("version_approve", kwargs={"pk": draft.pk}), {})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.editorial, draft.corrects) == ("approved", False, None)
    assert list(pending_readers(draft)) == [admin, teacher]  # alphabetical
    assert reading_status(teacher).must_read is True
    approved = AuditEntry.objects.filter(action="version.approved", object_id=str(draft.pk)).get()
    assert "editorial" not in approved.data


def test_editorial_without_a_reason_is_refused_and_writes_nothing(client, director, regulation):
    draft = new_draft(regulation, director)
    entries = AuditEntry.objects.count()
    client.force_login(director)
    response = client.post(
        reverse("version_approve", kwargs={"pk": draft.pk}),
        {"editorial": "on", "editorial_reason": "   "},
    )
    assert response.status_code == 200
    assert "Укажите, почему правка редакционная" in response.content.decode()
    with pytest.raises(PortalError) as refused:
        version_approve(version=draft, actor=director, editorial=True, editorial_reason=" ")
    assert refused.value.field == "editorial_reason"
    draft.refresh_from_db()
    assert (draft.status, draft.editorial) == (VersionStatus.DRAFT, False)
    assert AuditEntry.objects.count() == entries


def test_the_first_version_cannot_be_editorial(organisation, director):
    draft = make_version(organisation, director, approve=False)
    entries = AuditEntry.objects.count()
    with pytest.raises(PortalError, match="утверждённой редакции ещё нет"):
        version_approve(version=draft, actor=director, editorial=True, editorial_reason=REASON)
    assert DocumentVersion.objects.get(pk=draft.pk).status == VersionStatus.DRAFT
    assert AuditEntry.objects.count() == entries


def test_the_approval_page_offers_the_choice_only_when_there_is_a_version_to_correct(
    client, director, organisation, regulation
):
    draft = new_draft(regulation, director)
    client.force_login(director)
    page = client.get(reverse("version_approve", kwargs={"pk": draft.pk})).content.decode()
    assert "Редакционная правка: не просить сотрудников ознакомиться заново" in page
    assert reverse("version_changes", kwargs={"pk": draft.pk}) in page
