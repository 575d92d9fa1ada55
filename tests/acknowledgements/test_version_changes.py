"""What changed between versions: the word-level diff, its page, and the block on the
regulation page for a person asked to read a new version after confirming an earlier one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from acknowledgements.diff import DELETE, EQUAL, INSERT, Segment, tokens, word_diff
from acknowledgements.selectors import changes_since_read
from acknowledgements.services import acknowledgement_confirm, version_approve, version_create
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.acknowledgements.builders import REGULATION_TEXT, make_version
from tests.factories import PASSWORD

NEW_TEXT = REGULATION_TEXT.replace("Текст первого раздела.", "Новый текст первого раздела.")
NEW_TEXT = NEW_TEXT.replace("- второй пункт.", "- третий пункт.")


def approve_new_version(regulation, director, text=NEW_TEXT, **approval):
    version = version_create(
        organisation=regulation.document.organisation,
        actor=director,
        title=regulation.title,
        text=text,
        order_number="15-О",
        order_date=dt.date(2024, 2, 1),
        approver_position="Директор",
        approver_name="О.Б. Денисенко",
    )
    return version_approve(version=version, actor=director, **approval)


def confirm(version, person):
    return acknowledgement_confirm(
        version=version, person=person, password=PASSWORD, ip_address=None, user_agent="t"
    )


# --- the diff itself (pure) --------------------------------------------------------------------


def test_tokens_keep_every_whitespace_so_the_text_joins_back_exactly():
    text = "Раз  два\n\n- три\tчетыре "
    assert "".join(tokens(text)) == text
    assert tokens("а  б") == ["а", "  ", "б"]


def test_word_diff_marks_replaced_words_as_deleted_then_inserted():
    diff = word_diff("Педагог знакомится с Положением.", "Педагог изучает Положение.")
    assert diff.segments == (
        Segment(EQUAL, "Педагог "),
        Segment(DELETE, "знакомится с Положением."),
        Segment(INSERT, "изучает Положение."),
    )
    assert (diff.deleted_words, diff.inserted_words, diff.changed) == (3, 2, True)


def test_word_diff_joined_back_gives_each_text():
    old, new = REGULATION_TEXT, NEW_TEXT
    diff = word_diff(old, new)
    assert "".join(s.text for s in diff.segments if s.kind != INSERT) == old
    assert "".join(s.text for s in diff.segments if s.kind != DELETE) == new


def test_the_same_text_has_no_changes():
    diff = word_diff(REGULATION_TEXT, REGULATION_TEXT)
    assert not diff.changed
    assert diff.segments == (Segment(EQUAL, REGULATION_TEXT),)


# --- the page ------------------------------------------------------------------------------------


def test_the_page_shows_the_changes_since_the_previous_version(client, director, regulation):
    new = approve_new_version(regulation, director)
    client.force_login(director)
    response = client.get(reverse("version_changes", kwargs={"pk": new.pk}))
    assert response.status_code == 200
    page = response.content.decode()
    assert "По сравнению с редакцией 1" in page
    assert '<del class="diff-del">Текст</del><ins class="diff-ins">Новый текст</ins>' in page
    assert '<del class="diff-del">второй</del><ins class="diff-ins">третий</ins>' in page
    assert '<ins class="diff-legend-ins">добавлено</ins>' in page
    assert '<del class="diff-legend-del">удалено</del>' in page
    assert "style=" not in page


def test_any_two_versions_of_the_document_compare_with_from(client, admin, director, regulation):
    second = approve_new_version(regulation, director)
    third = approve_new_version(second, director, text=REGULATION_TEXT)
    client.force_login(admin)
    url = reverse("version_changes", kwargs={"pk": third.pk})
    page = client.get(url, {"from": regulation.pk}).content.decode()
    assert "По сравнению с редакцией 1" in page and "Тексты редакций совпадают." in page
    page = client.get(url).content.decode()
    assert "По сравнению с редакцией 2" in page
    assert '<del class="diff-del">Новый текст</del><ins class="diff-ins">Текст</ins>' in page


def test_the_first_version_has_nothing_to_compare(client, director, regulation):
    client.force_login(director)
    response = client.get(reverse("version_changes", kwargs={"pk": regulation.pk}))
    assert response.status_code == 200
    assert "Это первая редакция Положения: сравнивать не с чем." in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "999999"])
def test_a_from_that_is_not_a_version_of_the_document_is_404(client, director, regulation, value):
    new = approve_new_version(regulation, director)
    client.force_login(director)
    url = reverse("version_changes", kwargs={"pk": new.pk})
    assert client.get(url, {"from": value}).status_code == 404
    # The version compared with itself is not "another version" either.
    assert client.get(url, {"from": new.pk}).status_code == 404


def test_another_organisations_version_is_404_either_way(
    client, director, regulation, other_organisation, outsider
):
    theirs = make_version(other_organisation, outsider, approve=True)
    client.force_login(director)
    ours = reverse("version_changes", kwargs={"pk": regulation.pk})
    assert client.get(ours, {"from": theirs.pk}).status_code == 404
    assert client.get(reverse("version_changes", kwargs={"pk": theirs.pk})).status_code == 404


def test_who_may_see_the_changes_page(client, teacher, regulation):
    url = reverse("version_changes", kwargs={"pk": regulation.pk})
    response = client.get(url)
    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next={url}")
    client.force_login(teacher)
    assert client.get(url).status_code == 403


def test_the_page_writes_nothing(client, director, regulation):
    new = approve_new_version(regulation, director)
    before = AuditEntry.objects.count()
    client.force_login(director)
    client.get(reverse("version_changes", kwargs={"pk": new.pk}), {"from": regulation.pk})
    assert AuditEntry.objects.count() == before


# --- the regulation page: what changed since the version the person confirmed ------------------


def test_a_reader_of_the_earlier_version_sees_what_changed_first(
    client, director, teacher, regulation
):
    confirm(regulation, teacher)
    acknowledged = regulation.acknowledgements.get(person=teacher).acknowledged_on
    new = approve_new_version(regulation, director)
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    heading = f"Что изменилось с редакции 1, с которой вы ознакомились {acknowledged:%d.%m.%Y}"
    assert heading in page
    assert page.index(heading) < page.index("regulation-text card")
    assert '<del class="diff-del">второй</del><ins class="diff-ins">третий</ins>' in page
    assert "Подтвердите ознакомление" in page
    changes = changes_since_read(teacher, new)
    assert (changes.version, changes.diff.inserted_words) == (regulation, 3)


def test_no_changes_block_without_an_earlier_confirmation_or_once_confirmed(
    client, director, admin, teacher, regulation
):
    new = approve_new_version(regulation, director)
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert "Что изменилось с редакции" not in page
    with pytest.raises(PortalError):
        confirm(regulation, admin)  # superseded: refused, nothing recorded
    assert changes_since_read(admin, new) is None
    confirm(new, teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert "Что изменилось с редакции" not in page
