"""Documents, plural (issue «Every local act»): any local act with who must read it, a due date
and a clock for new staff; «Мои документы»; the agreement on the простая электронная подпись
accepted once before confirming online, or «только на бумаге»; each online confirmation
records the agreement it rests on; the sheet states that basis and carries its log."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import UserRole
from accounts.services import person_set_active, user_set_roles
from acknowledgements.models import (
    AGREEMENT_CODE,
    Acknowledgement,
    Document,
    DocumentVersion,
    PaperOnly,
)
from acknowledgements.selectors import my_documents, readers
from acknowledgements.services import (
    AGREEMENT_FIRST,
    PAPER_ONLY,
    acknowledgement_confirm,
    acknowledgement_record_paper,
    version_approve,
    version_create,
)
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from portal.demo import load_demo
from tests.acknowledgements.builders import fetch_sheet, make_act, make_agreement
from tests.factories import PASSWORD, StudyGroupFactory, UserFactory
from tests.helpers import DEMO_PASSWORD, pdf_text

TODAY = timezone.localdate


def confirm(person, version):
    return acknowledgement_confirm(
        version=version, person=person, password=PASSWORD, ip_address="10.0.0.9", user_agent="t"
    )


# --- the demo ------------------------------------------------------------------------------------


def test_the_demo_teacher_sees_three_documents_and_must_accept_the_agreement_first(client, db):
    from accounts.models import User

    organisation = load_demo()
    teacher = User.objects.get(username="teacher")
    mine = my_documents(teacher)
    titles = [item.document.title for item in mine]
    assert len(mine) == 3
    assert sorted(item.document.code for item in mine) == ["act-3", "act-4", "sferum"]
    assert sum("(учебный пример)" in t for t in titles) == 2
    assert Document.objects.filter(organisation=organisation, code=AGREEMENT_CODE).exists()

    client.post(reverse("login"), {"username": "teacher", "password": DEMO_PASSWORD})
    page = client.get(reverse("my_documents")).content.decode()
    for title in titles:
        assert title in page
    assert "один раз примите" in page

    # Confirming the regulation online is refused until the agreement is accepted.
    regulation = DocumentVersion.objects.get(
        document__organisation=organisation, document__code="sferum", status="approved"
    )
    refused = client.post(
        reverse("version_confirm", kwargs={"pk": regulation.pk}),
        {"read": "on", "password": DEMO_PASSWORD},
    )
    assert refused.status_code == 400
    assert AGREEMENT_FIRST in refused.content.decode()
    assert not Acknowledgement.objects.filter(person=teacher).exists()

    agreement = DocumentVersion.objects.get(
        document__organisation=organisation, document__code=AGREEMENT_CODE, status="approved"
    )
    accepted = client.post(
        reverse("version_confirm", kwargs={"pk": agreement.pk}),
        {"read": "on", "password": DEMO_PASSWORD},
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("document_read", kwargs={"code": AGREEMENT_CODE})
    done = client.post(
        reverse("version_confirm", kwargs={"pk": regulation.pk}),
        {"read": "on", "password": DEMO_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == reverse("regulation")
    ack = Acknowledgement.objects.get(person=teacher, version=regulation)
    assert ack.agreement == agreement


# --- adding an act -------------------------------------------------------------------------


def form(**values):
    data = {
        "title": "Положение об оплате труда",
        "kind": "regulation",
        "audience": "all",
        "order_number": "17-О",
        "order_date": TODAY().isoformat(),
        "approver_position": "Директор",
        "approver_name": "О.Б. Денисенко",
        "text": "## 1. Общие положения\n\nТекст.\n",
    }
    data.update(values)
    return data


def test_the_documents_list_keeps_each_number_with_its_sign(client, organisation, admin):
    """«№ 15-О» never breaks at «№»: a non-breaking space joins them on the list."""
    make_act(organisation, admin)
    client.force_login(admin)
    page = client.get(reverse("document_list")).content.decode()
    assert "№\u00a015-О" in page
    assert "№ 15-О" not in page


def test_an_act_for_one_group_is_read_by_its_teachers_only(client, organisation, admin, teacher):
    group = StudyGroupFactory(organisation=organisation, name="Робототехника")
    group.teachers.add(teacher)
    client.force_login(admin)
    due = TODAY() + dt.timedelta(days=10)
    response = client.post(
        reverse("document_new"),
        form(audience="groups", audience_groups=[group.pk], read_by=due.isoformat()),
    )
    version = DocumentVersion.objects.get(document__title="Положение об оплате труда")
    assert response.status_code == 302
    assert response["Location"] == reverse("version_detail", kwargs={"pk": version.pk})
    assert (version.status, version.read_by, version.number) == ("draft", due, 1)
    assert list(readers(version.document)) == [teacher]
    assert list(version.document.audience_groups.all()) == [group]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"read_by": (dt.date(2020, 1, 1)).isoformat()},
            "Срок ознакомления не может быть раньше сегодняшнего дня.",
        ),
        ({"audience": "people"}, "Отметьте хотя бы одного сотрудника."),
        ({"audience": "groups"}, "Отметьте хотя бы одно объединение."),
        ({"title": ""}, "Обязательное поле."),
        ({"new_staff_days": "400"}, "Убедитесь, что это значение меньше либо равно 365."),
    ],
)
def test_bad_input_gets_a_russian_message_and_writes_nothing(client, admin, values, message):
    client.force_login(admin)
    before = AuditEntry.objects.count()
    response = client.post(reverse("document_new"), form(**values))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.exists()
    assert AuditEntry.objects.count() == before


def test_a_group_without_an_active_teacher_is_a_document_with_no_one_to_read_it(
    client, organisation, admin
):
    empty = StudyGroupFactory(organisation=organisation, name="Без педагога")
    client.force_login(admin)
    response = client.post(
        reverse("document_new"), form(audience="groups", audience_groups=[empty.pk])
    )
    assert response.status_code == 400
    assert "Документ некому читать" in response.content.decode()
    assert not Document.objects.exists() and not DocumentVersion.objects.exists()


def test_another_organisations_group_cannot_be_chosen(client, admin, outsider):
    theirs = StudyGroupFactory(organisation=outsider.organisation, name="Чужая")
    client.force_login(admin)
    response = client.post(
        reverse("document_new"), form(audience="groups", audience_groups=[theirs.pk])
    )
    assert response.status_code == 400
    assert not Document.objects.exists()


def test_a_second_agreement_is_refused_it_gets_a_new_version_instead(
    organisation, director, teacher
):
    make_agreement(organisation, director)
    with pytest.raises(PortalError, match="Соглашение об электронной подписи уже есть"):
        make_agreement(organisation, director)
    assert Document.objects.filter(code=AGREEMENT_CODE).count() == 1


def test_another_organisations_document_is_404(client, organisation, director, teacher, outsider):
    act = make_act(organisation, director)
    client.force_login(outsider)
    code = act.document.code
    for name in ("document_read", "document_acknowledgements", "document_versions"):
        assert client.get(reverse(name, kwargs={"code": code})).status_code == 404, name


# --- the agreement -------------------------------------------------------------------------


@pytest.fixture
def agreement(organisation, director, admin, teacher):
    return make_agreement(organisation, director)


def test_a_refusal_means_paper_only_and_the_paper_record_still_works(
    client, organisation, admin, teacher, director, regulation, agreement
):
    client.force_login(teacher)
    response = client.post(reverse("agreement_refuse"))
    assert response.status_code == 302 and response["Location"] == reverse("my_documents")
    assert PaperOnly.objects.filter(person=teacher).exists()
    with pytest.raises(PortalError) as refused:
        confirm(teacher, regulation)
    assert refused.value.message == PAPER_ONLY
    ack = acknowledgement_record_paper(
        version=regulation, person=teacher, paper_date=TODAY(), recorded_by=admin
    )
    assert (ack.method, ack.agreement_id) == ("paper", None)
    # Changing their mind: accepting the agreement ends «только на бумаге».
    confirm(teacher, agreement)
    assert not PaperOnly.objects.filter(person=teacher).exists()


def test_a_new_agreement_version_is_accepted_again_and_old_confirmations_keep_theirs(
    organisation, director, teacher, regulation, agreement
):
    confirm(teacher, agreement)
    first, _ = confirm(teacher, regulation)
    assert first.agreement == agreement
    second = version_create(
        organisation=organisation, actor=director, code=AGREEMENT_CODE,
        title=agreement.title, text=agreement.text + "\nДополнение.\n", order_number="30-О",
        order_date=TODAY(), approver_position="Директор", approver_name="О.Б. Денисенко",
    )  # fmt: skip
    second = version_approve(version=second, actor=director)
    act = make_act(organisation, director)
    with pytest.raises(PortalError) as refused:
        confirm(teacher, act)
    assert refused.value.message == AGREEMENT_FIRST
    confirm(teacher, second)
    ack, _ = confirm(teacher, act)
    assert ack.agreement == second
    first.refresh_from_db()
    assert first.agreement == agreement  # what it rested on then, for good


def test_without_an_agreement_a_confirmation_rests_on_none_and_the_sheet_says_so(
    organisation, teacher, regulation
):
    ack, _ = confirm(teacher, regulation)
    assert ack.agreement is None


# --- who reads, and by when ----------------------------------------------------------------


def test_a_person_who_leaves_midway_drops_out_but_their_confirmation_stays_on_the_sheet(
    organisation, director, admin, teacher
):
    from acknowledgements.documents import sheet_rows

    act = make_act(organisation, director)
    leaver = UserFactory(organisation=organisation, last_name="Уходящая", roles=["teacher"])
    stayer = UserFactory(organisation=organisation, last_name="Остающаяся", roles=["teacher"])
    confirm(leaver, act)
    person_set_active(person=leaver, actor=admin, active=False)
    person_set_active(person=stayer, actor=admin, active=False)
    names = [row.full_name for row in sheet_rows(act)]
    assert leaver.full_name in names  # read it before leaving: stays on the sheet
    assert stayer.full_name not in names  # never read it and left: nobody asks them
    assert leaver not in readers(act.document)


def test_a_new_member_of_staff_gets_the_documents_clock_from_the_day_they_joined(
    organisation, director, admin
):
    act = make_act(organisation, director, new_staff_days=14)
    newcomer = UserFactory(organisation=organisation, last_name="Новенькая", roles=[])
    user_set_roles(user=newcomer, roles={"teacher"}, actor=admin)
    joined = UserRole.objects.get(user=newcomer).granted_at
    assert joined > act.approved_at
    [item] = [d for d in my_documents(newcomer) if d.document == act.document]
    assert item.due == timezone.localtime(joined).date() + dt.timedelta(days=14)
    later = my_documents(newcomer, today=item.due + dt.timedelta(days=1))
    assert [d.overdue for d in later if d.document == act.document] == [True]


def test_an_act_for_named_people_and_for_roles(organisation, director, admin, teacher):
    named = make_act(
        organisation, director, title="Для названных", audience="people", audience_people=[teacher]
    )
    assert list(readers(named.document)) == [teacher]
    by_role = make_act(
        organisation,
        director,
        title="Для администраторов",
        audience="roles",
        audience_roles=["admin"],
    )
    assert list(readers(by_role.document)) == [admin]


# --- the sheet: the basis and the log ------------------------------------------------------------


def test_the_sheet_states_the_basis_and_embeds_the_log_of_confirmations(
    client, organisation, director, admin, teacher, agreement
):
    act = make_act(organisation, director)
    confirm(teacher, agreement)
    online, _ = confirm(teacher, act)
    paper = acknowledgement_record_paper(
        version=act, person=admin, paper_date=TODAY(), recorded_by=admin
    )
    client.force_login(director)
    pdf = fetch_sheet(
        client, reverse("document_sheet_pdf", kwargs={"code": act.document.code})
    ).content
    text = " ".join(pdf_text(pdf).split())
    assert (
        f"* Подтверждено простой электронной подписью в портале, соглашение от "
        f"{agreement.order_date:%d.%m.%Y}"
    ) in text
    log = json.loads(PdfReader(io.BytesIO(pdf)).attachments["confirmations.json"][0])
    assert log["version"] == {
        "number": 1, "order": act.order_label, "text_sha256": act.text_sha256,
    }  # fmt: skip
    by_person = {row["person"]["id"]: row for row in log["confirmations"]}
    assert by_person[teacher.pk] == {
        "person": {"id": teacher.pk, "full_name": teacher.full_name},
        "method": "online",
        "acknowledged_on": online.acknowledged_on.isoformat(),
        "recorded_at": online.recorded_at.isoformat(),
        "recorded_by": teacher.full_name,
        "version": 1,
        "text_sha256": act.text_sha256,
        "agreement": {
            "version_id": agreement.pk,
            "order": agreement.order_label,
            "text_sha256": agreement.text_sha256,
        },
        "ip_address": "10.0.0.9",
    }
    assert by_person[admin.pk]["method"] == "paper" and by_person[admin.pk]["agreement"] is None
    assert paper.pk and len(log["confirmations"]) == 2


@pytest.mark.parametrize(
    ("target", "back_to"),
    [
        ("/regulation/", "/regulation/"),
        ("https://evil.example/", "/documents/esign-agreement/"),
        ("//evil.example/", "/documents/esign-agreement/"),
    ],
)
def test_accepting_the_agreement_on_the_way_returns_to_the_document_and_nowhere_else(
    client, teacher, regulation, agreement, target, back_to
):
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert "/documents/esign-agreement/?next=/regulation/" in page
    response = client.post(
        reverse("version_confirm", kwargs={"pk": agreement.pk}),
        {"read": "on", "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302 and response["Location"] == back_to
    assert Acknowledgement.objects.get(person=teacher).version == agreement


def test_a_reminder_about_an_act_names_it_and_links_its_page(
    organisation, director, admin, teacher, mailoutbox
):
    from acknowledgements.services import reminders_start

    teacher.email = "teacher@example.ru"
    teacher.save()
    act = make_act(organisation, director)
    reminders_start(version=act, actor=admin, base_url="http://testserver/")
    [letter] = [m for m in mailoutbox if m.to == ["teacher@example.ru"]]
    assert letter.subject.startswith(
        "Напоминание: ознакомьтесь с документом «Правила внутреннего трудового распорядка»"
    )
    assert f"http://testserver/documents/{act.document.code}/" in letter.body
