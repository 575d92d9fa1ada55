"""Parents confirm the notice and give or withdraw consent; the history is never overwritten."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from families.models import ConsentRecord, ConsentText, NoticeAcknowledgement, ParentNotice
from tests.factories import GuardianshipFactory, UserFactory
from tests.families.builders import give_consent
from tests.helpers import pdf_text


def test_the_admin_publishes_a_notice_from_the_template(on_vk, client, admin, organisation):
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert organisation.full_name in page  # the draft comes from section 5's template
    assert "VK Мессенджер" in page
    response = client.post(
        reverse("notice_publish"), {"text": "Мы используем «Сферум» с 01.12.2026."}, follow=True
    )
    assert response.redirect_chain == [(reverse("notices"), 302)]
    text = response.content.decode()
    assert "Уведомление опубликовано: родители увидят его на своей странице." in text
    assert "Мы используем «Сферум» с 01.12.2026." in text
    # publishing the same text again changes nothing: parents' confirmations stay
    client.post(reverse("notice_publish"), {"text": "Мы используем «Сферум» с 01.12.2026."})
    assert ParentNotice.objects.count() == 1


def test_an_empty_notice_is_refused(client, admin):
    client.force_login(admin)
    response = client.post(reverse("notice_publish"), {"text": "   "}, follow=True)
    assert "Текст уведомления пустой." in response.content.decode()
    assert not ParentNotice.objects.exists()


def test_the_director_sees_but_cannot_publish(client, director):
    client.force_login(director)
    page = client.get(reverse("notices")).content.decode()
    assert reverse("notice_publish") not in page
    assert client.post(reverse("notice_publish"), {"text": "x"}).status_code == 403
    assert not ParentNotice.objects.exists()


def test_the_notices_page_only_shows(client, admin):
    """Publishing has its own address; a POST to the page itself is not an action."""
    client.force_login(admin)
    assert client.post(reverse("notices"), {"text": "x"}).status_code == 405
    assert not ParentNotice.objects.exists()


def test_a_parent_confirms_and_the_admin_sees_it_by_group(
    on_vk, client, parent, admin, group, notice
):
    client.force_login(parent)
    page = client.get(reverse("family_home")).content.decode()
    assert "Мы используем «Сферум»" in page and "Ознакомлена</button>" in page
    client.post(reverse("notice_confirm"))
    client.post(reverse("notice_confirm"))  # twice changes nothing
    assert NoticeAcknowledgement.objects.filter(parent=parent).count() == 1
    assert "<strong>Ознакомлена" in client.get(reverse("family_home")).content.decode()

    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert group.name in page and "1 из 1" in page
    assert parent.gender_suffix in ("", "а")  # the patronymic tells
    done = f" — ознакомлен{parent.gender_suffix}<"
    assert f'{parent.full_name}<span class="visually-hidden">{done}' in page


def test_consent_given_then_withdrawn_keeps_the_history(client, parent, student, admin):
    client.force_login(parent)
    url = reverse("consent", kwargs={"pk": student.pk})
    # The one-click address writes nothing: giving needs the filled form (issue 12).
    response = client.post(url, {"action": "given"})
    assert response["Location"] == reverse("consent_give", kwargs={"pk": student.pk})
    assert not ConsentRecord.objects.exists()
    give_consent(parent, student)
    client.post(reverse("consent_withdraw", kwargs={"pk": student.pk}), REMOTE_ADDR="10.1.2.3")
    records = list(ConsentRecord.objects.filter(student=student).order_by("at", "pk"))
    assert [r.action for r in records] == ["given", "withdrawn"]
    assert {r.parent for r in records} == {parent}
    assert records[0].consent_text == records[1].consent_text
    assert records[1].ip_address == "10.1.2.3"
    assert "отозвано" in client.get(reverse("family_home")).content.decode()

    client.force_login(admin)
    page = client.get(reverse("consents")).content.decode()
    assert "отозвано" in page and "дано" in page  # current state and history
    assert page.index("— дано") < page.index("— отозвано")


def test_a_parent_opening_another_familys_child_gets_404(client, parent, organisation):
    stranger_child = UserFactory(organisation=organisation, last_name="Чужой", roles=["student"])
    other_parent = UserFactory(organisation=organisation, last_name="Другая", roles=["parent"])
    GuardianshipFactory(parent=other_parent, student=stranger_child)
    client.force_login(parent)
    response = client.post(
        reverse("consent", kwargs={"pk": stranger_child.pk}), {"action": "given"}
    )
    assert response.status_code == 404
    assert not ConsentRecord.objects.exists()
    assert stranger_child.full_name not in client.get(reverse("family_home")).content.decode()


def test_an_unknown_consent_action_is_refused(client, parent, student):
    client.force_login(parent)
    response = client.post(
        reverse("consent", kwargs={"pk": student.pk}), {"action": "forever"}, follow=True
    )
    assert "Неизвестное действие." in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_reading_the_consent_text_stores_nothing_until_a_first_consent(
    client, admin, parent, student, organisation
):
    client.force_login(admin)
    assert "152-ФЗ" in client.get(reverse("consent_text")).content.decode()
    assert not ConsentText.objects.exists()
    give_consent(parent, student)
    stored = ConsentText.objects.get()
    assert ConsentRecord.objects.get().consent_text == stored
    assert stored.organisation == organisation
    assert "152-ФЗ" in stored.text


def test_the_consent_text_prints_as_a_separate_document(client, admin, organisation):
    client.force_login(admin)
    response = client.get(reverse("consent_text") + "?format=pdf")
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "152-ФЗ" in text
    assert organisation.full_name in text
    assert "Подпись" in text


def test_a_parents_page_costs_the_same_queries_for_one_child_or_five(
    client, parent, organisation, group, notice
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("family_home")).status_code == 200
        return len(captured)

    client.force_login(parent)
    one_child = queries()
    for n in range(4):
        child = UserFactory(organisation=organisation, last_name=f"Ребёнок{n}", roles=["student"])
        GuardianshipFactory(parent=parent, student=child)
        group.students.add(child)
        give_consent(parent, child)
    assert queries() == one_child
