"""The regulation becomes one document among many (acknowledgements 0008, accounts 0017): a
database written before keeps its regulation, versions and acknowledgements, the regulation is
a document for all staff of kind «положение», its acknowledgements rest on no agreement (they
were made before there was one), and the regulation's old addresses answer as before."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from acknowledgements.models import Acknowledgement, Audience, Document, DocumentKind
from tests.factories import PASSWORD
from tests.migrating import migrate

BEFORE = [
    ("acknowledgements", "0007_reminder_letters_to_the_outbox"),
    ("accounts", "0016_organisation_messenger_max_by_default"),
]


@pytest.mark.django_db(transaction=True)
def test_the_regulation_and_its_acknowledgements_are_migrated_and_its_addresses_answer(
    client, organisation, director, admin, teacher
):
    old = migrate(BEFORE)
    try:
        OldDocument = old.get_model("acknowledgements", "Document")
        OldVersion = old.get_model("acknowledgements", "DocumentVersion")
        OldAck = old.get_model("acknowledgements", "Acknowledgement")
        document = OldDocument.objects.create(
            organisation_id=organisation.pk, code="sferum", title="Положение"
        )
        version = OldVersion.objects.create(
            document_id=document.pk, number=1, title="Положение по использованию ИКОП «Сферум»",
            text="## 1. Общие положения\n\nТекст.\n", order_number="201-О",
            order_date=dt.date(2023, 11, 30), approver_position="Директор",
            approver_name="О.Б. Денисенко", status="approved", text_sha256="a" * 64,
            approved_at=timezone.now(), approved_by_id=director.pk,
        )  # fmt: skip
        OldAck.objects.create(
            version_id=version.pk, person_id=teacher.pk, method="online",
            acknowledged_on=dt.date(2023, 12, 4), recorded_by_id=teacher.pk,
            ip_address="10.0.0.7", text_sha256="a" * 64,
        )  # fmt: skip
    finally:
        migrate()

    regulation = Document.objects.get(pk=document.pk)
    assert (regulation.code, regulation.kind, regulation.audience) == (
        "sferum",
        DocumentKind.REGULATION,
        Audience.ALL_STAFF,
    )
    assert (regulation.audience_roles, regulation.new_staff_days) == ([], None)
    assert not regulation.audience_groups.exists() and not regulation.audience_people.exists()
    ack = Acknowledgement.objects.get()
    assert (ack.person_id, ack.acknowledged_on, ack.agreement_id) == (
        teacher.pk,
        dt.date(2023, 12, 4),
        None,
    )

    # The teacher's page says they have read it; the managers' pages answer at the old
    # addresses and at the new ones alike.
    client.force_login(teacher)
    page = client.get("/regulation/")
    assert page.status_code == 200
    assert re.search(r"Ознакомлен(а|\(а\))? 04\.12\.2023", page.content.decode())
    assert client.get(reverse("my_documents")).status_code == 200
    client.force_login(director)
    for address in (
        "/regulation/acknowledgements/",
        "/regulation/acknowledgements.csv",
        "/regulation/versions/",
        "/documents/sferum/",
        "/documents/sferum/acknowledgements/",
        "/documents/",
    ):
        assert client.get(address).status_code == 200, address
    listing = client.get("/regulation/acknowledgements/").content.decode()
    assert teacher.full_name in listing and "04.12.2023" in listing
    # A password sign-in still works after the roles' new column (accounts 0017).
    client.logout()
    signed_in = client.post(reverse("login"), {"username": teacher.username, "password": PASSWORD})
    assert signed_in.status_code == 302
